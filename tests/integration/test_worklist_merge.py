"""The worklist's rows gather events of several streams of a patient, which Kafka carries on
different partitions and several projector processes may apply at once: two transactions
merging into one patient's rows must not both start from the same facts."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
from e2e_helpers import create_practitioner
from infra import stored_events
from specialty_helpers import enable, register
from support import TenantFixture

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
