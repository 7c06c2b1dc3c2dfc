"""The worklist's rows gather events of several streams of a patient, which Kafka carries on
different partitions and several projector processes may apply at once: two transactions
merging into one patient's rows must not both start from the same facts. A duplicate record
merged into another (a chain of them, one erased) ends up the same in whatever order the
streams' events arrive, and equal to the live rows."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
from e2e_helpers import create_practitioner
from infra import stored_events
from specialty_helpers import enable, register
from support import TenantFixture, new_tenant
from workload import wait_caught_up

from backend.eventstore import RecordedEvent
from backend.eventstore.db import connect
from backend.specialties.worklist import WORKLIST, entry_id
from projections.rebuild import create_shadow, discard_shadow, shadow_of


async def test_two_writers_of_one_patient_keep_both_merges(
    client: httpx.AsyncClient, tenant: TenantFixture, projector_pool: asyncpg.Pool, owner_dsn: str
) -> None:
    await enable(client, tenant, "diabetes")
    patient = (await register(client, tenant, specialty_data={"diabetes": {"hba1c": 50}})).json()
    doctor = await create_practitioner(client, tenant)
    body = {
        "patient_id": patient["id"],
        "practitioner_id": doctor["id"],
        "specialty_data": {"diabetes": {"hba1c": 55}},
    }
    r = await client.post("/v1/visits", json=body, headers=tenant.as_role("DOCTOR"))
    assert r.status_code == 201, r.text
    visit = r.json()
    events = await stored_events(
        projector_pool,
        "tenant_id = $1 AND stream_id = ANY($2)",
        tenant.id,
        [uuid.UUID(patient["id"]), uuid.UUID(visit["id"])],
    )
    of_patient = [e for e in events if str(e.stream_id) == patient["id"]]
    of_visit = [e for e in events if str(e.stream_id) == visit["id"]]
    shadow = shadow_of(WORKLIST, "merge")
    owner = await connect(owner_dsn)
    try:
        await create_shadow(owner, WORKLIST.table, shadow.table)
        async with projector_pool.acquire() as first, projector_pool.acquire() as second:
            holding = first.transaction()
            await holding.start()
            await shadow.apply(first, of_patient)

            async def visit_applied() -> None:
                async with second.transaction():
                    await shadow.apply(second, of_visit)

            waiting = asyncio.create_task(visit_applied())
            await asyncio.sleep(0.5)
            assert not waiting.done(), "the second writer waits for the first to commit"
            await holding.commit()
            await waiting
        facts = await projector_pool.fetchval(
            f"SELECT facts FROM {shadow.table} WHERE tenant_id = $1 AND entry_id = $2",
            tenant.id,
            entry_id(uuid.UUID(patient["id"]), "diabetes", "hba1c_rising"),
        )
        values = sorted(r["value"] for r in facts["results"].values())
        assert values == [50, 55], "both streams' results, whichever committed last"
    finally:
        await discard_shadow(owner, shadow)
        await owner.close()


async def _merged_person(client: httpx.AsyncClient, tenant: TenantFixture, erase: bool) -> int:
    """Three records of one person, each with an HbA1c (the middle one with a visit and its
    foot exam): the first merged into the second, that into the third; the middle one erased
    if `erase`. The last position."""
    await enable(client, tenant, "diabetes")
    records = [
        (await register(client, tenant, specialty_data={"diabetes": {"hba1c": v}})).json()["id"]
        for v in (50, 52, 54)
    ]
    doctor = await create_practitioner(client, tenant)
    body = {
        "patient_id": records[1],
        "practitioner_id": doctor["id"],
        "specialty_data": {"diabetes": {"hba1c": 58}},
    }
    visit = (await client.post("/v1/visits", json=body, headers=tenant.as_role("DOCTOR"))).json()
    foot = {"plugin": "diabetes", "type": "foot_exam", "data": {"risk": "low"}}
    r = await client.post(
        f"/v1/visits/{visit['id']}/specialty-events", json=foot, headers=tenant.as_role("NURSE")
    )
    assert r.status_code == 200, r.text
    admin = tenant.as_role("CLINIC_ADMIN")
    for duplicate, kept in ((records[0], records[1]), (records[1], records[2])):
        body = {"into": kept, "reason": "the same person registered twice"}
        r = await client.post(f"/v1/patients/{duplicate}/merge", json=body, headers=admin)
        assert r.status_code == 200, r.text
    if erase:
        r = await client.post(
            f"/v1/patients/{records[1]}/erase", json={"reason": "request"}, headers=admin
        )
        assert r.status_code == 200, r.text
    return int(r.json()["position"])


def _orders(events: list[RecordedEvent]) -> list[list[list[RecordedEvent]]]:
    """Batches in the store's order, one by one; each stream's events in order but the streams
    in reverse (as partitions may deliver them); the merges first; all in one batch."""
    streams: dict[uuid.UUID, list[RecordedEvent]] = {}
    for e in events:
        streams.setdefault(e.stream_id, []).append(e)
    merges = [e for e in events if e.event_type == "PatientMerged"]
    rest = [e for e in events if e.event_type != "PatientMerged"]
    return [
        [[e] for e in events],
        [[e] for stream in reversed(streams.values()) for e in stream],
        [merges, *([e] for e in rest)],
        [events],
    ]


async def test_merged_records_rebuild_equal_to_the_live_rows_in_any_order(
    client: httpx.AsyncClient, projector_pool: asyncpg.Pool, owner_dsn: str
) -> None:
    tenants = [await new_tenant(client) for _ in range(2)]
    last = 0
    for tenant, erase in zip(tenants, (False, True), strict=True):
        last = max(last, await _merged_person(client, tenant, erase))
    await wait_caught_up(projector_pool, last)
    ids = [t.id for t in tenants]
    events = await stored_events(projector_pool, "tenant_id = ANY($1)", ids)
    rows = "SELECT * FROM {} WHERE tenant_id = ANY($1) ORDER BY 1, 2"
    live = await projector_pool.fetch(rows.format(WORKLIST.table), ids)
    listed = [(r["patient_id"], r["recall"]) for r in live if r["due_at"] is not None]
    assert len({p for p, _ in listed}) == 2  # each person once, under their kept record
    owner = await connect(owner_dsn)
    try:
        for n, batches in enumerate(_orders(events)):
            shadow = shadow_of(WORKLIST, f"order{n}")
            await create_shadow(owner, WORKLIST.table, shadow.table)
            try:
                for batch in batches:
                    async with projector_pool.acquire() as conn, conn.transaction():
                        await shadow.apply(conn, batch)
                assert await projector_pool.fetch(rows.format(shadow.table), ids) == live, n
            finally:
                await discard_shadow(owner, shadow)
    finally:
        await owner.close()


async def test_a_merge_waits_for_a_writer_of_the_duplicates_rows(
    client: httpx.AsyncClient, tenant: TenantFixture, projector_pool: asyncpg.Pool, owner_dsn: str
) -> None:
    """A visit of the duplicate applied on one partition while its merge is applied on another:
    the merge waits for the visit's facts to commit, then moves them too."""
    await enable(client, tenant, "diabetes")
    kept, duplicate = [
        (await register(client, tenant, specialty_data={"diabetes": {"hba1c": v}})).json()["id"]
        for v in (50, 52)
    ]
    doctor = await create_practitioner(client, tenant)
    body = {
        "patient_id": duplicate,
        "practitioner_id": doctor["id"],
        "specialty_data": {"diabetes": {"hba1c": 58}},
    }
    visit = (await client.post("/v1/visits", json=body, headers=tenant.as_role("DOCTOR"))).json()
    merge = {"into": kept, "reason": "the same person registered twice"}
    r = await client.post(
        f"/v1/patients/{duplicate}/merge", json=merge, headers=tenant.as_role("CLINIC_ADMIN")
    )
    assert r.status_code == 200, r.text
    await wait_caught_up(projector_pool, r.json()["position"])
    events = await stored_events(projector_pool, "tenant_id = $1", tenant.id)
    of_visit = [e for e in events if str(e.stream_id) == visit["id"]]
    merges = [e for e in events if e.event_type == "PatientMerged"]
    rest = [e for e in events if e not in of_visit and e not in merges]
    rows = "SELECT * FROM {} WHERE tenant_id = $1 ORDER BY 1, 2"
    live = await projector_pool.fetch(rows.format(WORKLIST.table), tenant.id)
    shadow = shadow_of(WORKLIST, "merging")
    owner = await connect(owner_dsn)
    try:
        await create_shadow(owner, WORKLIST.table, shadow.table)
        async with projector_pool.acquire() as conn, conn.transaction():
            await shadow.apply(conn, rest)
        async with projector_pool.acquire() as first, projector_pool.acquire() as second:
            holding = first.transaction()
            await holding.start()
            await shadow.apply(first, of_visit)

            async def merged() -> None:
                async with second.transaction():
                    await shadow.apply(second, merges)

            waiting = asyncio.create_task(merged())
            await asyncio.sleep(0.5)
            assert not waiting.done(), "the merge waits for the duplicate's writer to commit"
            await holding.commit()
            await waiting
        assert await projector_pool.fetch(rows.format(shadow.table), tenant.id) == live
    finally:
        await discard_shadow(owner, shadow)
        await owner.close()
