"""A tenant's events recorded in a period, page by page, for the audit export (NDJSON).

Each page is its own short transaction (the runtime role's transactions are time-limited, and a
long-open snapshot would hold back every global reader), read by keyset on (recorded_at,
position), so memory stays constant however many events the period holds.

Exact in the face of writers: the period ends at `to`, or at the present if `to` is later, once
no transaction that could still commit an event recorded by then is running
(backend/eventstore/settling.py). Pages therefore never miss an event that commits late, and an
export of a past period always holds the same lines. A writer stuck in a long transaction delays
that (the runtime role's timeouts bound it); after `settle_timeout` the export is refused
(ExportNotSettled) rather than risk a gap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

import asyncpg
import orjson

from backend.eventstore import EventStore
from backend.eventstore.settling import SETTLE_SECONDS, settled_moment
from backend.kernel.errors import DomainError
from backend.privacy import keys

PAGE = 2000
# PostgreSQL renders each line (json_build_object keeps the key order) and hands it over as
# UTF-8 bytes: the export then only moves bytes (no decoding and encoding again in Python),
# which is what keeps it near the speed of a raw COPY.
_PAGE_SQL = """
SELECT recorded_at, position, CASE WHEN data ? 'sealed' THEN event_id END AS sealed_id,
       CASE WHEN data ? 'sealed' THEN event_type END AS sealed_type,
       CASE WHEN data ? 'sealed' THEN data END AS sealed_data,
       convert_to(json_build_object(
         'position', position, 'event_id', event_id, 'stream_type', stream_type,
         'stream_id', stream_id, 'version', version, 'type', event_type,
         'schema_version', schema_version, 'data', data, 'metadata', metadata,
         'occurred_at', occurred_at, 'recorded_at', recorded_at,
         'actor', metadata->'actor', 'roles', coalesce(metadata->'roles', '[]'),
         'request_id', metadata->'request_id', 'correlation_id', metadata->'correlation_id',
         'causation_id', metadata->'causation_id', 'plugins', coalesce(metadata->'plugins', '{}'),
         'unreadable', false, 'hash', encode(hash, 'hex'))::text, 'UTF8') AS line
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
    settle_timeout: float = SETTLE_SECONDS,
) -> Period:
    """The period to export, once no event recorded inside it can still commit.
    `horizon_pool` connects with a role that may call recording_writers() (the projector's)."""
    cut = await settled_moment(
        horizon_pool, end, wait_seconds=settle_timeout, refusal=ExportNotSettled
    )
    return Period(start, cut)


@dataclass(frozen=True)
class Page:
    lines: list[bytes]
    unreadable: list[UUID]
    """Events of the page whose sealed fields did not open (flagged `"unreadable": true`)."""


async def pages(
    store: EventStore, tenant_id: UUID, period: Period, page: int = PAGE
) -> AsyncIterator[Page]:
    """NDJSON lines, a page at a time; personal fields readable, redacted (erased) or, where
    they no longer open, "[unreadable]" and flagged: the export goes on past them."""
    cursor: tuple[dt.datetime, int] = (period.start, 0)
    while True:
        async with store.transaction(tenant_id) as conn:
            rows = await conn.fetch(_PAGE_SQL, tenant_id, period.start, period.end, *cursor, page)
            unsealed = await _unsealed_page(conn, tenant_id, rows)
        if unsealed.lines:
            yield unsealed
        if len(rows) < page:
            return
        cursor = (rows[-1]["recorded_at"], rows[-1]["position"])


async def _unsealed_page(
    conn: asyncpg.Connection, tenant_id: UUID, rows: list[asyncpg.Record]
) -> Page:
    """Lines as PostgreSQL rendered them, except that events with sealed personal fields get
    them opened (or redacted) here, where the keys are."""
    sealed = [r for r in rows if r["sealed_id"] is not None]
    if not sealed:
        return Page([r["line"] for r in rows], [])
    opened = iter(
        await keys.open_all(
            conn, [(tenant_id, r["sealed_id"], r["sealed_type"], r["sealed_data"]) for r in sealed]
        )
    )
    lines, unreadable = [], []
    for r in rows:
        if r["sealed_id"] is None:
            lines.append(r["line"])
            continue
        data = next(opened)
        line = orjson.loads(r["line"])
        line["data"], line["unreadable"] = data.data, data.unreadable
        lines.append(orjson.dumps(line))
        if data.unreadable:
            unreadable.append(r["sealed_id"])
    return Page(lines, unreadable)


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


def ndjson(lines: list[bytes]) -> bytes:
    return b"\n".join(lines) + b"\n"
