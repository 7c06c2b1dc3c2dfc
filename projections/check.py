"""Check a read model against the events: rebuild it from zero into a shadow table and compare the
two row by row, at the same point of the global order.

The shadow (`<table>__check`, made like a rebuild's: projections/rebuild.py) is filled by a
catch-up runner until it has caught up. The comparison then runs in one REPEATABLE READ
transaction that reads the live projection's checkpoint: the live table in that snapshot is
exactly what its projection made of the events up to that checkpoint (rows and checkpoint
commit together), and the few events the live projection applied beyond the shadow's checkpoint
are applied to the shadow in the same transaction. A live projection behind the shadow (it
lags, or is fed from Kafka, whose progress is kept per partition) is waited for, then reported
as not comparable. The shadow is dropped afterwards, whatever happened.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import asyncpg

from backend.eventstore.db import connect, create_pool
from backend.eventstore.store import read_between
from backend.eventstore.types import GlobalCheckpoint
from projections import tracking
from projections.catchup import CatchUpRunner
from projections.framework import TableProjection
from projections.rebuild import create_shadow, discard_shadow, quote_ident, shadow_of


class NotComparable(Exception):
    """The read model could not be compared (its rebuild parked, or the live one stays behind)."""


@dataclass(frozen=True)
class Difference:
    key: dict[str, Any]
    live: dict[str, Any] | None
    """None: the events make this row, the read model lacks it."""
    rebuilt: dict[str, Any] | None
    """None: the read model has a row the events do not make."""

    @property
    def columns(self) -> list[str]:
        """The columns whose values differ (every column when a side lacks the row)."""
        live, rebuilt = self.live or {}, self.rebuilt or {}
        return sorted(c for c in live.keys() | rebuilt.keys() if live.get(c) != rebuilt.get(c))


@dataclass(frozen=True)
class Comparison:
    projection: str
    table: str
    rows: int
    """Rows of the rebuild."""
    checkpoint: GlobalCheckpoint
    """The point of the global order both sides were compared at."""
    differences: list[Difference]


async def check_read_model(
    owner_dsn: str,
    projector_dsn: str,
    projection: TableProjection,
    *,
    batch_size: int = 2000,
    wait_seconds: float = 10.0,
) -> Comparison:
    """Rebuild `projection` into a shadow and compare it with the live table."""
    shadow = shadow_of(projection, "check")
    owner = await connect(owner_dsn)
    pool = await create_pool(projector_dsn, min_size=1, max_size=2)
    try:
        await discard_shadow(owner, shadow)  # what an interrupted check left
        await create_shadow(owner, projection.table, shadow.table)
        runner = CatchUpRunner(pool, shadow, batch_size=batch_size)
        await runner.checkpoint()
        while await runner.step():
            pass
        if (await runner.checkpoint()).state != "running":
            msg = f"rebuilding {projection.name} from the events parked; see {shadow.name}"
            raise NotComparable(msg)
        deadline = time.monotonic() + wait_seconds
        while True:
            async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
                compared = await _compare_if_level(conn, projection, shadow)
            if compared is not None:
                return compared
            if time.monotonic() > deadline:
                msg = (
                    f"the live {projection.name} projection stays behind its rebuild"
                    " (lagging, or fed from Kafka): nothing to compare at one point"
                )
                raise NotComparable(msg)
            await asyncio.sleep(0.05)
    finally:
        await discard_shadow(owner, shadow)
        await pool.close()
        await owner.close()


async def _compare_if_level(
    conn: asyncpg.Connection, live: TableProjection, shadow: TableProjection
) -> Comparison | None:
    """Inside a REPEATABLE READ transaction: bring the shadow to the live checkpoint and compare;
    None while the live projection is behind the shadow."""
    at = await tracking.least_places(conn, None)  # effective: its own or its group's
    if live.name not in at:
        msg = f"the {live.name} projection has never run"
        raise NotComparable(msg)
    level, rebuilt = at[live.name], at[shadow.name]
    if (level.tx_id, level.position) < (rebuilt.tx_id, rebuilt.position):
        return None
    events = await read_between(conn, rebuilt, level)
    if events:
        await shadow.apply(conn, events)
    count: int = await conn.fetchval(f"SELECT count(*) FROM {shadow.table}")
    differences = await _differences(conn, live.table, shadow.table)
    return Comparison(live.name, live.table, count, level, differences)


async def _differences(conn: asyncpg.Connection, live: str, rebuilt: str) -> list[Difference]:
    """Rows, by primary key, that one side lacks or that differ, in key order."""
    keys = await conn.fetch(
        "SELECT a.attname FROM pg_index i"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)"
        " WHERE i.indrelid = $1::regclass AND i.indisprimary"
        " ORDER BY array_position(i.indkey::int2[], a.attnum)",
        live,
    )
    names = [k["attname"] for k in keys]
    key = ", ".join(f"t.{quote_ident(name)}" for name in names)
    rows = await conn.fetch(
        f"SELECT l.r AS live, r.r AS rebuilt"
        f" FROM (SELECT jsonb_build_array({key}) AS k, to_jsonb(t) AS r FROM {live} t) l"
        f" FULL JOIN (SELECT jsonb_build_array({key}) AS k, to_jsonb(t) AS r FROM {rebuilt} t) r"
        " ON l.k = r.k WHERE l.r IS DISTINCT FROM r.r ORDER BY coalesce(l.k, r.k)"
    )
    return [
        Difference(
            {name: (r["live"] or r["rebuilt"])[name] for name in names}, r["live"], r["rebuilt"]
        )
        for r in rows
    ]
