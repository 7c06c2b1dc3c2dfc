"""Helpers for the partner tests: API keys made through the API."""

from __future__ import annotations

from typing import Any

import httpx
from support import TenantFixture

from backend.auth.scopes import SCOPES


async def make_key(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    scopes: list[str] | frozenset[str] = SCOPES,
    **extra: Any,
) -> dict[str, Any]:
    """A new key's creation response (its secret in `key`)."""
    body = {"name": "lab integration", "scopes": sorted(scopes), **extra}
    r = await client.post("/v1/api-keys", json=body, headers=tenant.as_role("CLINIC_ADMIN"))
    assert r.status_code == 201, r.text
    made: dict[str, Any] = r.json()
    return made


def with_key(made: dict[str, Any]) -> dict[str, str]:
    return {"X-API-Key": made["key"]}
