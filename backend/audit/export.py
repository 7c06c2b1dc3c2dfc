"""A tenant's events recorded in a period, page by page, for the audit export (NDJSON).

Each page is its own short transaction (the runtime role's transactions are time-limited, and a
long-open snapshot would hold back every global reader), read by keyset on (recorded_at,
position), so memory stays constant however many events the period holds.

Exact in the face of writers: before the first page, the export waits until every writing
transaction that was running when it started has ended: the event horizon of the global readers
(migration 0002: the oldest transaction of a role that may insert events in this database) has
passed the next transaction id taken at the start. Only then can no event with a recording time
inside the period still commit, so pages never miss one that commits late. A writer stuck in a
long transaction delays that (the runtime role's timeouts bound it); after `settle_timeout` the
export is refused (ExportNotSettled) rather than risk a gap.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

import asyncpg
import orjson

from backend.eventstore import EventStore
from backend.kernel.errors import DomainError
from backend.privacy import keys

PAGE = 2000
# PostgreSQL renders each line (json_build_object keeps the key order): the export then only
# moves bytes, which is what keeps it near the speed of a raw COPY.
_PAGE_SQL = """
SELECT recorded_at, position, CASE WHEN data ? 'sealed' THEN event_id END AS sealed_id,
       CASE WHEN data ? 'sealed' THEN event_type END AS sealed_type,
       CASE WHEN data ? 'sealed' THEN data END AS sealed_data,
       json_build_object(
         'position', position, 'event_id', event_id, 'stream_type', stream_type,
         'stream_id', stream_id, 'version', version, 'type', event_type,
         'schema_version', schema_version, 'data', data, 'metadata', metadata,
         'occurred_at', occurred_at, 'recorded_at', recorded_at,
         'hash', encode(hash, 'hex'))::text AS line
  FROM events
 WHERE tenant_id = $1 AND recorded_at >= $2 AND recorded_at < $3
   AND (recorded_at, position) > ($4, $5)
 ORDER BY recorded_at, position
 LIMIT $6
"""


class ExportNotSettled(DomainError):
    code = "EXPORT_NOT_SETTLED"
    status = 503


@dataclass(frozen=True)
class Period:
    start: dt.datetime
    end: dt.datetime
    """Exclusive; never later than the moment the export started."""


async def settled_period(
    horizon_pool: asyncpg.Pool,
    start: dt.datetime,
    end: dt.datetime | None,
    settle_timeout: float = 5.0,
) -> Period:
    """The period to export, once no event recorded inside it can still commit.
    `horizon_pool` connects with a role that may call event_horizon() (the projector's)."""
    row = await horizon_pool.fetchrow(
        "SELECT statement_timestamp() AS now, pg_snapshot_xmax(pg_current_snapshot())::text AS next"
    )
    assert row is not None
    period = Period(start, min(end, row["now"]) if end is not None else row["now"])
    deadline = time.monotonic() + settle_timeout
    while not await horizon_pool.fetchval("SELECT event_horizon() >= $1::text::xid8", row["next"]):
        if time.monotonic() > deadline:
            msg = "transactions older than the export are still running; retry shortly"
            raise ExportNotSettled(msg)
        await asyncio.sleep(0.05)
    return period


async def pages(
    store: EventStore, tenant_id: UUID, period: Period, page: int = PAGE
) -> AsyncIterator[list[str]]:
    """NDJSON lines, a page at a time; personal fields readable or redacted (erased)."""
    cursor: tuple[dt.datetime, int] = (period.start, 0)
    while True:
        async with store.transaction(tenant_id) as conn:
            rows = await conn.fetch(_PAGE_SQL, tenant_id, period.start, period.end, *cursor, page)
            lines = await _unsealed_lines(conn, tenant_id, rows)
        if lines:
            yield lines
        if len(rows) < page:
            return
        cursor = (rows[-1]["recorded_at"], rows[-1]["position"])


async def _unsealed_lines(
    conn: asyncpg.Connection, tenant_id: UUID, rows: list[asyncpg.Record]
) -> list[str]:
    """Lines as PostgreSQL rendered them, except that events with sealed personal fields get
    them opened (or redacted) here, where the keys are."""
    sealed = [r for r in rows if r["sealed_id"] is not None]
    if not sealed:
        return [r["line"] for r in rows]
    opened = iter(
        await keys.open_all(
            conn, [(tenant_id, r["sealed_id"], r["sealed_type"], r["sealed_data"]) for r in sealed]
        )
    )
    lines = []
    for r in rows:
        if r["sealed_id"] is None:
            lines.append(r["line"])
        else:
            line = orjson.loads(r["line"])
            line["data"] = next(opened)
            lines.append(orjson.dumps(line).decode())
    return lines


async def count(store: EventStore, tenant_id: UUID, period: Period) -> int:
    async with store.transaction(tenant_id) as conn:
        total = await conn.fetchval(
            "SELECT count(*) FROM events WHERE tenant_id = $1"
            " AND recorded_at >= $2 AND recorded_at < $3",
            tenant_id,
            period.start,
            period.end,
        )
    return int(total)


def ndjson(lines: list[str]) -> bytes:
    return "".join(f"{line}\n" for line in lines).encode()
