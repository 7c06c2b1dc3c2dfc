"""Rebuilding a read model from zero: reads keep working, the result equals the live model
(every read model, in bulk or batch by batch), an interrupted rebuild resumes where it stopped,
and an event the aggregate refuses parks the rebuild at that event."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from support import TenantFixture, new_tenant
from workload import wait_caught_up, workload

from backend.catalog import READ_MODELS as ALL
from backend.eventstore import ANY, EventStore, NewEvent, StreamAppend
from backend.eventstore.db import connect
from backend.eventstore.migrate import read_model_security
from backend.kernel.aggregate import Aggregate
from backend.kernel.events import DomainEvent, register
from backend.patients.projections import PATIENTS
from backend.settings import with_user
from projections.catchup import CatchUpRunner
from projections.framework import TableProjection, mirrored
from projections.rebuild import RebuildFailed, create_shadow, rebuild


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
    assert await _forced(projector_pool, "rm_patients__rebuild")  # at rest like any tenant table
    before = await _snapshot(projector_pool)
    resumed = await rebuild(owner_dsn, projector_dsn, PATIENTS, lambda *_: None, batch_size=20)
    total = await projector_pool.fetchval("SELECT count(*) FROM events")
    assert 0 < resumed < total  # it did not start from zero again
    assert await projector_pool.fetchval("SELECT to_regclass('rm_patients__rebuild')") is None
    assert await _snapshot(projector_pool) == before


async def test_streams_folded_across_chunks_and_read_back_equal_the_live_rows(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    owner_dsn: str,
    projector_pool: asyncpg.Pool,
) -> None:
    """Patients changed long after they registered, rebuilt in small chunks keeping only two
    folded states: most streams continue in a later chunk from the row the shadow holds."""
    headers = tenant.as_role("CLINIC_ADMIN")
    await _register(client, tenant, 12)
    found = await client.get("/v1/patients", params={"q": "rebuilt"}, headers=headers)
    for i, patient in enumerate(found.json()["items"]):
        change = {"phone": f"+1 212 555 {i:04d}"}
        r = await client.patch(f"/v1/patients/{patient['id']}", json=change, headers=headers)
        assert r.status_code == 200, r.text
    erased = found.json()["items"][0]["id"]
    r = await client.post(f"/v1/patients/{erased}/erase", json={"reason": "asked"}, headers=headers)
    assert r.status_code == 200, r.text
    await wait_caught_up(projector_pool, r.json()["position"])
    before = await _snapshot(projector_pool)
    projector_dsn = with_user(owner_dsn, "caretrail_projector")
    await rebuild(
        owner_dsn, projector_dsn, PATIENTS, lambda *_: None, batch_size=7, cached_streams=2
    )
    assert await _snapshot(projector_pool) == before


async def test_every_read_model_rebuilt_equals_the_live_one(
    client: httpx.AsyncClient, owner_dsn: str, projector_pool: asyncpg.Pool
) -> None:
    """Each read model rebuilt into a copy of its own (a StateProjection in bulk, the others
    batch by batch) is, once the copy has caught up, the live table row for row."""
    tenants = [await new_tenant(client) for _ in range(2)]
    await wait_caught_up(projector_pool, await workload(client, tenants))
    owner = await connect(owner_dsn)
    copies = []
    for projection in ALL:
        copy = dataclasses.replace(  # type: ignore[type-var]
            projection, name=f"{projection.name}__bulk", table=f"{projection.table}__bulk"
        )
        await create_shadow(owner, projection.table, copy.table)
        copies.append(copy)
    await owner.close()
    projector_dsn = with_user(owner_dsn, "caretrail_projector")
    for copy in copies:
        await rebuild(owner_dsn, projector_dsn, copy, lambda *_: None, batch_size=50)
    for live, copy in zip(ALL, copies, strict=True):
        await _until_equal(projector_pool, live, copy)


async def _until_equal(pool: asyncpg.Pool, live: TableProjection, copy: TableProjection) -> None:
    """The copy catches up alone (what was appended after its rebuild: reactions go on), until
    both tables hold the same rows."""
    runner = CatchUpRunner(pool, copy)
    deadline = time.monotonic() + 30
    while True:
        while await runner.step():
            pass
        expected = await _rows(pool, live.table)
        if await _rows(pool, copy.table) == expected:
            assert expected, live.table
            return
        assert time.monotonic() < deadline, f"{copy.table} never matched {live.table}"
        await asyncio.sleep(0.1)


async def _rows(pool: asyncpg.Pool, table: str) -> list[asyncpg.Record]:
    # Every read-model table's key is (tenant_id, its second column).
    return await pool.fetch(f"SELECT * FROM {table} ORDER BY 1, 2")


@register
@dataclass(frozen=True)
class RebuildProbeCounted(DomainEvent):
    """A probe's count; one marked poison is refused by the probe aggregate."""

    probe_id: uuid.UUID
    n: int
    poison: bool


@dataclass(frozen=True)
class _Probe:
    id: uuid.UUID | None = None
    n: int = 0


def _evolve(state: _Probe, event: DomainEvent) -> _Probe:
    assert isinstance(event, RebuildProbeCounted)
    if event.poison:
        msg = "cannot fold this"
        raise ValueError(msg)
    return _Probe(event.probe_id, event.n)


PROBES = mirrored(
    "rebuild_probes",
    Aggregate("rebuild_probe", _Probe, _evolve, dataclasses.asdict),
    "rm_rebuild_probes",
    "probe_id",
)


async def test_an_event_the_aggregate_refuses_parks_the_rebuild_at_it(
    store: EventStore, owner_dsn: str, projector_pool: asyncpg.Pool
) -> None:
    owner = await connect(owner_dsn)
    await owner.execute(
        "CREATE TABLE rm_rebuild_probes (tenant_id uuid NOT NULL, probe_id uuid NOT NULL,"
        " n int NOT NULL, version bigint NOT NULL, PRIMARY KEY (tenant_id, probe_id));"
        + read_model_security("rm_rebuild_probes")
    )
    await owner.close()
    tenant, healthy, poisoned = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def counted(probe: uuid.UUID, n: int, poison: bool = False) -> StreamAppend:
        data: dict[str, Any] = {"probe_id": str(probe), "n": n, "poison": poison}
        event = NewEvent(uuid.uuid4(), "RebuildProbeCounted", data, dt.datetime.now(dt.UTC))
        return StreamAppend("rebuild_probe", probe, ANY, (event,))

    await store.append(tenant, [counted(healthy, 1), counted(poisoned, 1)])
    await store.append(tenant, [counted(poisoned, 2)])
    bad = await store.append(tenant, [counted(poisoned, 3, poison=True)])
    await store.append(tenant, [counted(healthy, 2), counted(poisoned, 4)])

    projector_dsn = with_user(owner_dsn, "caretrail_projector")
    with pytest.raises(RebuildFailed, match="parked"):
        await rebuild(owner_dsn, projector_dsn, PROBES, lambda *_: None)
    row = await projector_pool.fetchrow(
        "SELECT state, last_error, error_position FROM projection_checkpoints WHERE name = $1",
        "rebuild_probes__rebuild",
    )
    assert row["state"] == "parked" and "cannot fold this" in row["last_error"]
    assert row["error_position"] == bad.position
    kept = await projector_pool.fetch(
        "SELECT probe_id, n, version FROM rm_rebuild_probes__rebuild WHERE tenant_id = $1",
        tenant,
    )
    assert {r["probe_id"]: (r["n"], r["version"]) for r in kept} == {
        healthy: (1, 1),
        poisoned: (2, 2),
    }  # everything before the poison, nothing after it
    assert await _forced(projector_pool, "rm_rebuild_probes__rebuild")


async def _forced(pool: asyncpg.Pool, table: str) -> bool:
    """Row-level security enabled and forced (while it is written, a shadow's is not forced)."""
    forced: bool = await pool.fetchval(
        "SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE relname = $1", table
    )
    return forced
