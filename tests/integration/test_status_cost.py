"""What status, `/v1/projections` and `/metrics` ask of the database costs the same whatever
the store's size: every read of `events` is an index probe bounded by a LIMIT (the head's
`max(position)`, the first event past a place), never a scan or a count of events."""

from __future__ import annotations

from typing import Any

import asyncpg

from projections.tracking import PROGRESS_SQL, RELAYS_SQL


async def _plan(pool: asyncpg.Pool, sql: str, *args: Any) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        # Without sequential scans the planner shows whether an index path exists at all.
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan: list[dict[str, Any]] = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args)
    return plan[0]["Plan"]


def _reads_of_events(node: dict[str, Any], limited: bool = False) -> list[tuple[str, bool]]:
    """Every scan of `events` in the plan, with whether a Limit node bounds it."""
    limited = limited or node["Node Type"] == "Limit"
    found = []
    if node.get("Relation Name") == "events":
        found.append((node["Node Type"], limited))
    for child in node.get("Plans", []):
        found += _reads_of_events(child, limited)
    return found


def _bounded_probes(plan: dict[str, Any]) -> None:
    reads = _reads_of_events(plan)
    assert reads, "the plan reads no events"
    for node_type, limited in reads:
        assert node_type in ("Index Scan", "Index Only Scan", "Index Scan Backward"), reads
        assert limited, f"an unbounded {node_type} of events: {reads}"


async def test_projection_status_probes_events_by_index(projector_pool: asyncpg.Pool) -> None:
    plan = await _plan(projector_pool, PROGRESS_SQL, ["patients", "visits"], [1, 2], [3, 4])
    _bounded_probes(plan)


async def test_relay_status_probes_events_by_index(projector_pool: asyncpg.Pool) -> None:
    _bounded_probes(await _plan(projector_pool, RELAYS_SQL))
