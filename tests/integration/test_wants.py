"""What a projection says it does not want, it really ignores: the Kafka runner skips such
batches without applying them, so applying them must change nothing."""

from __future__ import annotations

import asyncpg
import httpx
from infra import stored_events
from support import new_tenant
from workload import workload

from projections.read_models import ALL


async def test_events_a_projection_does_not_want_leave_its_table_unchanged(
    client: httpx.AsyncClient, projector_pool: asyncpg.Pool
) -> None:
    tenants = [await new_tenant(client) for _ in range(2)]
    await workload(client, tenants)
    events = await stored_events(projector_pool, "tenant_id = ANY($1)", [t.id for t in tenants])
    kinds = {(e.stream_type, e.event_type) for e in events}
    for projection in ALL:
        unwanted = [e for e in events if not projection.wants(e.stream_type, e.event_type)]
        assert unwanted, projection.name  # the workload has events for others
        assert len(unwanted) < len(events), projection.name  # and some for this one
        async with projector_pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                query = f"SELECT * FROM {projection.table} ORDER BY 1, 2"
                before = await conn.fetch(query)
                await projection.apply(conn, unwanted)
                assert await conn.fetch(query) == before, projection.name
            finally:
                await transaction.rollback()
    assert len(kinds) > len(ALL)
