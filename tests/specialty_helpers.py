"""Helpers for the specialty plugin tests: enabling specialties, registering patients with
specialty data, reading a stream's history, and a plugins directory of the test's own."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from e2e_helpers import patient_body
from support import TenantFixture

from backend.specialties import registry
from backend.specialties.calculators import CalculatorWorkers

ADMIN = "CLINIC_ADMIN"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "plugins"


async def enable(client: httpx.AsyncClient, tenant: TenantFixture, *names: str) -> httpx.Response:
    return await client.put(
        "/v1/tenant/specialties",
        json={"specialties": list(names)},
        headers=tenant.as_role(ADMIN),
    )


async def register(
    client: httpx.AsyncClient, tenant: TenantFixture, **overrides: Any
) -> httpx.Response:
    return await client.post(
        "/v1/patients", json=patient_body(**overrides), headers=tenant.as_role("RECEPTIONIST")
    )


async def history(
    client: httpx.AsyncClient, tenant: TenantFixture, stream_type: str, stream_id: str
) -> list[dict[str, Any]]:
    r = await client.get(
        f"/v1/streams/{stream_type}/{stream_id}/events", headers=tenant.as_role("AUDITOR")
    )
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["events"]
    return items


@asynccontextmanager
async def own_plugins(
    directory: Path, budget: float = 1.0, workers: int = 2
) -> AsyncIterator[registry.PluginRegistry]:
    """The app serves the plugins of `directory` (with the test fixtures copied in), with
    calculator workers of its own, until the block ends."""
    shutil.copytree(FIXTURES, directory, dirs_exist_ok=True)
    own = registry.PluginRegistry(directory, CalculatorWorkers(budget, workers))
    own.reload()
    previous = registry.install(own)
    try:
        yield own
    finally:
        if previous is not None:
            registry.install(previous)
        await own.workers.close()


def write_plugin(directory: Path, name: str, manifest: str, functions: str | None = None) -> Path:
    """A plugin folder `name` in `directory` with its manifest (and functions.py)."""
    folder = directory / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.yaml").write_text(manifest)
    if functions is not None:
        (folder / "functions.py").write_text(functions)
    return folder
