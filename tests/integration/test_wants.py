"""What a projection says it does not want, it really ignores: the Kafka runner skips such
batches without applying them, so applying them must change nothing."""

from __future__ import annotations

import asyncpg
import httpx
from infra import stored_events
from support import new_tenant
from workload import workload

from backend.catalog import READ_MODELS as ALL


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
            # One snapshot for both reads: the app's own projections may still be applying the
            # workload's last events, and their commits between the reads were counted as this
            # apply's changes (a clean-clone CI run failed so on rm_patients).
            transaction = conn.transaction(isolation="repeatable_read")
            await transaction.start()
            try:
                query = f"SELECT * FROM {projection.table} ORDER BY 1, 2"
                before = await conn.fetch(query)
                await projection.apply(conn, unwanted)
                assert await conn.fetch(query) == before, projection.name
            finally:
                await transaction.rollback()
    assert len(kinds) > len(ALL)


async def test_every_read_models_key_is_the_tenant_and_at_most_one_column(
    projector_pool: asyncpg.Pool,
) -> None:
    """The comparisons of Kafka-fed, rebuilt and live tables order rows by their first two
    columns (`ORDER BY 1, 2`): with a longer key, equal tables compared unequal when their rows
    sat in another order (rm_worklist, keyed by patient, plugin and recall, did)."""
    for projection in ALL:
        key = await projector_pool.fetchval(
            "SELECT array_agg(a.attname::text ORDER BY array_position(i.indkey::int2[], a.attnum))"
            " FROM pg_index i JOIN pg_attribute a"
            " ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)"
            " WHERE i.indrelid = $1::regclass AND i.indisprimary",
            projection.table,
        )
        first_two = await projector_pool.fetchval(
            "SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute"
            " WHERE attrelid = $1::regclass AND attnum IN (1, 2)",
            projection.table,
        )
        assert key == first_two[: len(key)] and key[0] == "tenant_id", (projection.table, key)
