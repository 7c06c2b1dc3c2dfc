"""Verify a stream's hash chain (see migration 0004: each event's hash covers its predecessor's).

The database recomputes every link with the same function that chained it on insert, and the
first link that does not hold is reported: a changed event (its hash no longer matches its
content), a changed or removed predecessor (the next link breaks), or a missing version.
Events whose sealed personal fields no longer open (their ciphertext or their subject's key was
altered, even with the hashes recomputed) are named too; erased subjects' fields are not
unreadable, only redacted.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from backend.privacy import keys

_VERIFY = """
WITH links AS (
  SELECT version, position, hash, lag(version) OVER w AS prev_version,
         event_hash(lag(hash) OVER w, event_id, tenant_id, stream_type, stream_id, version,
                    event_type, schema_version, data, metadata, occurred_at, recorded_at)
           AS expected
    FROM events WHERE stream_type = $1 AND stream_id = $2
  WINDOW w AS (ORDER BY version)
)
SELECT (SELECT count(*) FROM links) AS events,
       (SELECT encode(hash, 'hex') FROM links ORDER BY version DESC LIMIT 1) AS head,
       (SELECT row(version, position,
                   CASE WHEN version <> coalesce(prev_version, 0) + 1 THEN 'missing_version'
                        ELSE 'hash_mismatch' END)
          FROM links
         WHERE version <> coalesce(prev_version, 0) + 1 OR hash IS DISTINCT FROM expected
         ORDER BY version LIMIT 1) AS broken
"""


@dataclass(frozen=True)
class BrokenLink:
    version: int
    position: int
    reason: str


@dataclass(frozen=True)
class UnreadableEvent:
    version: int
    position: int


@dataclass(frozen=True)
class ChainReport:
    events: int
    head: str | None
    broken: BrokenLink | None
    unreadable: tuple[UnreadableEvent, ...] = ()

    @property
    def valid(self) -> bool:
        return self.broken is None and not self.unreadable


async def verify_stream(conn: asyncpg.Connection, stream_type: str, stream_id: UUID) -> ChainReport:
    """`conn` is a tenant transaction: another tenant's stream has no events."""
    row = await conn.fetchrow(_VERIFY, stream_type, stream_id)
    assert row is not None
    broken = row["broken"]
    return ChainReport(
        row["events"],
        row["head"],
        None if broken is None else BrokenLink(broken[0], broken[1], broken[2]),
        await _unreadable(conn, stream_type, stream_id),
    )


async def _unreadable(
    conn: asyncpg.Connection, stream_type: str, stream_id: UUID
) -> tuple[UnreadableEvent, ...]:
    sealed = await conn.fetch(
        "SELECT version, position, tenant_id, event_id, event_type, data FROM events"
        " WHERE stream_type = $1 AND stream_id = $2 AND data ? 'sealed' ORDER BY version",
        stream_type,
        stream_id,
    )
    opened = await keys.open_all(
        conn, [(r["tenant_id"], r["event_id"], r["event_type"], r["data"]) for r in sealed]
    )
    return tuple(
        UnreadableEvent(r["version"], r["position"])
        for r, o in zip(sealed, opened, strict=True)
        if o.unreadable
    )
