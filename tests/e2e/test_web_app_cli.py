"""What the web app is built and demonstrated with: `caretrail openapi` (its typed client is
generated from it) and `caretrail demo` (the demo tenants, through a running API)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from infra import free_port, ok, server_answer
from support import JWT_SECRET

from backend.auth.tokens import issue_token

CLI = (sys.executable, "-m", "backend.cli")


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "CARETRAIL_JWT_SECRET": JWT_SECRET, **extra}
    env.pop("APP_DATABASE_URL", None)
    return env


def test_openapi_prints_the_document_the_app_serves_in_its_environment() -> None:
    dev = subprocess.run(
        [*CLI, "openapi"], env=_env(CARETRAIL_ENV="dev"), capture_output=True, check=True
    )
    paths = json.loads(dev.stdout)["paths"]
    assert "/v1/dev/sign-in" in paths and "/v1/practitioners" in paths
    prod = subprocess.run(
        [*CLI, "openapi"], env=_env(CARETRAIL_ENV="test"), capture_output=True, check=True
    )
    assert "/v1/dev/sign-in" not in json.loads(prod.stdout)["paths"]


@pytest.fixture
async def api_url(owner_dsn: str) -> AsyncIterator[str]:
    port = free_port()
    env = _env(CARETRAIL_ENV="dev", DATABASE_URL=owner_dsn, PORT=str(port), HOST="127.0.0.1")
    proc = await asyncio.create_subprocess_exec(
        *CLI, "serve", env=env, stdout=asyncio.subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            ready = await server_answer(client, settled=ok, seconds=90)
            assert ready is not None and ready.status_code == 200, ready and ready.text
        yield url
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 20)


async def _demo(url: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "demo",
        "--api",
        url,
        env=_env(CARETRAIL_ENV="dev"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, output.decode()
    return output.decode()


async def test_demo_creates_a_clinic_and_a_hospital_once(api_url: str) -> None:
    first = await _demo(api_url)
    assert "riverside-demo: tenant" in first and "st-brigid-demo: tenant" in first
    async with httpx.AsyncClient(base_url=api_url) as client:
        tenants = {t["slug"]: t for t in (await client.get("/v1/dev/sign-in")).json()["tenants"]}
        clinic, hospital = tenants["riverside-demo"], tenants["st-brigid-demo"]
        assert clinic["kind"] == "clinic" and hospital["kind"] == "hospital"
        assert {p["name"] for p in clinic["practitioners"]} == {"Dr. Alice Grey", "Dr. Omar Haddad"}
        desk = issue_token(JWT_SECRET, actor="t", roles=["RECEPTIONIST"], tenant_id=clinic["id"])
        auth = {"Authorization": f"Bearer {desk}"}
        patients = (await client.get("/v1/patients", headers=auth)).json()["items"]
        assert len(patients) == 4
        tenant = (await client.get("/v1/tenant", headers=auth)).json()
        assert tenant["specialties"] == ["cardiac"]
        nurse = issue_token(JWT_SECRET, actor="t", roles=["NURSE"], tenant_id=hospital["id"])
        census = await client.get("/v1/census", headers={"Authorization": f"Bearer {nurse}"})
        assert census.json()["count"] == 1
    assert await _demo(api_url) == "riverside-demo: already there\nst-brigid-demo: already there\n"
