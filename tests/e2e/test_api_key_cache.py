"""A key verified a moment ago is not looked up again, yet a revocation or a rotation takes
effect at once in the process that made it and, through Redis pub/sub, in every other one well
within CACHE_SECONDS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from partner_helpers import make_key, with_key
from support import TenantFixture

from backend.auth.scopes import PATIENTS_READ
from backend.auth.verified_keys import CACHE_SECONDS
from backend.bootstrap import Resources, create_app
from backend.eventstore import EventStore
from backend.settings import Settings


@pytest.fixture(scope="module")
async def other_process(
    settings: Settings,
    owner_dsn: str,
    app_pool: asyncpg.Pool,
    store: EventStore,
    projector_pool: asyncpg.Pool,
) -> AsyncIterator[httpx.AsyncClient]:
    """A second API process on the same database and Redis, with its own verified keys."""
    app = create_app(settings, Resources(owner_dsn, app_pool, store, projector_pool))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


async def refused_after(client: httpx.AsyncClient, key: dict[str, str]) -> float:
    """Seconds until `client` refuses `key` with 401."""
    started = time.perf_counter()
    while (await client.get("/v1/patients", headers=key)).status_code != 401:
        assert time.perf_counter() - started < CACHE_SECONDS + 1
        await asyncio.sleep(0.01)
    return time.perf_counter() - started


async def test_a_revoked_key_is_refused_at_once_here_and_soon_everywhere(
    client: httpx.AsyncClient, other_process: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    made = await make_key(client, tenant, [PATIENTS_READ])
    key = with_key(made)
    for process in (client, other_process):  # verified, and kept, in both
        assert (await process.get("/v1/patients", headers=key)).status_code == 200
    r = await client.delete(f"/v1/api-keys/{made['id']}", headers=tenant.as_role("CLINIC_ADMIN"))
    assert r.status_code == 200, r.text
    assert (await client.get("/v1/patients", headers=key)).status_code == 401
    assert await refused_after(other_process, key) < 1.0


async def test_a_secret_rotated_without_overlap_ends_at_once_here_and_soon_everywhere(
    client: httpx.AsyncClient, other_process: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    made = await make_key(client, tenant, [PATIENTS_READ])
    old = with_key(made)
    for process in (client, other_process):
        assert (await process.get("/v1/patients", headers=old)).status_code == 200
    r = await client.post(
        f"/v1/api-keys/{made['id']}/rotate",
        json={"overlap_hours": 0},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.status_code == 200, r.text
    assert (await client.get("/v1/patients", headers=old)).status_code == 401
    assert await refused_after(other_process, old) < 1.0
    new = with_key(r.json())
    for process in (client, other_process):
        assert (await process.get("/v1/patients", headers=new)).status_code == 200
