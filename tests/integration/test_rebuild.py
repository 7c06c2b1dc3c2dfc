"""Rebuilding a read model from zero: reads keep working, the result equals the live model,
and an interrupted rebuild resumes where it stopped."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest
from support import TenantFixture

from backend.settings import with_user
from projections.read_models import PATIENTS
from projections.rebuild import rebuild


class _Interrupt(Exception):
    pass


async def _register(client: httpx.AsyncClient, tenant: TenantFixture, n: int) -> int:
    position = 0
    for i in range(n):
        body = {
            "given_name": f"R{i}",
            "family_name": "Rebuilt",
            "birth_date": "1990-02-03",
            "sex": "female",
        }
        r = await client.post("/v1/patients", json=body, headers=tenant.as_role("NURSE"))
        assert r.status_code == 201, r.text
        position = r.json()["position"]
    return position


async def _snapshot(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM rm_patients ORDER BY tenant_id, patient_id")


async def test_rebuild_swaps_in_an_equal_table_while_reads_continue(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    owner_dsn: str,
    projector_pool: asyncpg.Pool,
) -> None:
    last = await _register(client, tenant, 40)
    headers = tenant.as_role("NURSE")
    ready = await client.get("/v1/patients", params={"min_position": last}, headers=headers)
    assert ready.status_code == 200
    before = await _snapshot(projector_pool)
    reads: list[int] = []
    stop = asyncio.Event()

    async def keep_reading() -> None:
        while not stop.is_set():
            r = await client.get("/v1/patients", params={"q": "rebuilt"}, headers=headers)
            reads.append(r.status_code)
            await asyncio.sleep(0)

    reader = asyncio.create_task(keep_reading())
    seen: list[tuple[int, int]] = []
    applied = await rebuild(
        owner_dsn,
        with_user(owner_dsn, "caretrail_projector"),
        PATIENTS,
        lambda done, ahead: seen.append((done, ahead)),
        batch_size=25,
    )
    stop.set()
    await reader
    assert applied >= 40 and len(seen) >= 2
    assert seen[-1][1] <= seen[0][1]  # what is ahead shrinks
    assert reads and set(reads) == {200}
    assert await _snapshot(projector_pool) == before
    leftovers = await projector_pool.fetchval(
        "SELECT count(*) FROM projection_checkpoints WHERE name = 'patients__rebuild'"
    )
    assert leftovers == 0
    after = await client.get("/v1/patients", params={"q": "rebuilt", "limit": 200}, headers=headers)
    assert len(after.json()["items"]) == 40
    assert int(after.headers["X-Projection-Position"]) >= last


async def test_an_interrupted_rebuild_resumes(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    owner_dsn: str,
    projector_pool: asyncpg.Pool,
) -> None:
    await _register(client, tenant, 30)
    projector_dsn = with_user(owner_dsn, "caretrail_projector")

    def stop_after_first_batch(done: int, ahead: int) -> None:
        raise _Interrupt

    with pytest.raises(_Interrupt):
        await rebuild(owner_dsn, projector_dsn, PATIENTS, stop_after_first_batch, batch_size=20)
    position = await projector_pool.fetchval(
        "SELECT position FROM projection_checkpoints WHERE name = 'patients__rebuild'"
    )
    assert position > 0  # the first batch was kept
    resumed = await rebuild(owner_dsn, projector_dsn, PATIENTS, lambda *_: None, batch_size=20)
    total = await projector_pool.fetchval("SELECT count(*) FROM events")
    assert 0 < resumed < total  # it did not start from zero again
    assert await projector_pool.fetchval("SELECT to_regclass('rm_patients__rebuild')") is None
