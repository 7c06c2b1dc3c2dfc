"""Snapshots: a stream's folded state at a version, so a load replays only the events after it.

A snapshot is derived data. It is written by the command that moves a stream past a multiple of
the stream type's interval, in the same transaction, and read back together with the events
after it in one round trip. Temporal reads use a snapshot only if every event it covers falls
inside their cut (version, recorded_by, occurred_by); otherwise they fold from an earlier one or
from the start. What a state looks like in JSON is the caller's business (kernel.state_codec).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from backend.eventstore.types import RecordedEvent

DEFAULT_INTERVAL = 100

_EVENT_COLUMNS = (
    "e.position, e.event_id, e.tenant_id, e.stream_type, e.stream_id, e.version, e.event_type,"
    " e.schema_version, e.data, e.metadata, e.occurred_at, e.recorded_at,"
    " e.tx_id::text::bigint AS tx_id"
)
_READ = f"""
WITH s AS (
  SELECT version, position, state FROM snapshots
   WHERE stream_type = $1 AND stream_id = $2 AND state_version = $3
     AND ($4::bigint IS NULL OR version <= $4)
     AND ($5::timestamptz IS NULL OR max_recorded_at <= $5)
     AND ($6::timestamptz IS NULL OR max_occurred_at <= $6)
   ORDER BY version DESC LIMIT 1)
SELECT s.version AS snap_version, s.position AS snap_position,
       CASE WHEN e.version IS NULL OR e.version = min(e.version) OVER () THEN s.state END
         AS snap_state,
       {_EVENT_COLUMNS}
  FROM (SELECT 1) AS one
  LEFT JOIN s ON true
  LEFT JOIN LATERAL (
    SELECT * FROM events e
     WHERE e.stream_type = $1 AND e.stream_id = $2 AND e.version > coalesce(s.version, 0)
       AND ($4::bigint IS NULL OR e.version <= $4)
       AND ($5::timestamptz IS NULL OR e.recorded_at <= $5)
       AND ($6::timestamptz IS NULL OR e.occurred_at <= $6)) e ON true
 ORDER BY e.version
"""
_WRITE = """
INSERT INTO snapshots (tenant_id, stream_type, stream_id, version, position, state_version, state,
                       max_recorded_at, max_occurred_at)
SELECT $1, $2, $3, $4, max(position), $5, $6, max(recorded_at), max(occurred_at)
  FROM events WHERE tenant_id = $1 AND stream_type = $2 AND stream_id = $3 AND version <= $4
HAVING count(*) = $4
ON CONFLICT DO NOTHING
"""


@dataclass(frozen=True)
class Snapshot:
    version: int
    position: int
    state: Any
    """The state as JSON, as written."""


@dataclass(frozen=True)
class SnapshotPolicy:
    """Snapshot every `interval(stream_type)` events; 0 switches a stream type off."""

    intervals: Mapping[str, int] | None = None

    def interval(self, stream_type: str) -> int:
        intervals = self.intervals or {}
        return intervals.get(stream_type, intervals.get("default", DEFAULT_INTERVAL))

    def due(self, stream_type: str, before: int, after: int) -> bool:
        """Whether moving a stream from version `before` to `after` crosses an interval."""
        every = self.interval(stream_type)
        return every > 0 and after // every > before // every


async def read_from_snapshot(
    conn: asyncpg.Connection,
    stream_type: str,
    stream_id: UUID,
    state_version: int,
    *,
    up_to_version: int | None = None,
    recorded_by: dt.datetime | None = None,
    occurred_by: dt.datetime | None = None,
) -> tuple[Snapshot | None, list[RecordedEvent]]:
    """The latest usable snapshot and the events after it inside the cut, in version order."""
    rows = await conn.fetch(
        _READ, stream_type, stream_id, state_version, up_to_version, recorded_by, occurred_by
    )
    first = rows[0]
    snapshot = (
        None
        if first["snap_version"] is None
        else Snapshot(first["snap_version"], first["snap_position"], first["snap_state"])
    )
    skip = {"snap_version", "snap_position", "snap_state"}
    events = [
        RecordedEvent(**{k: v for k, v in r.items() if k not in skip})
        for r in rows
        if r["version"] is not None
    ]
    return snapshot, events


async def write_snapshot(
    conn: asyncpg.Connection,
    tenant_id: UUID,
    stream_type: str,
    stream_id: UUID,
    version: int,
    state_version: int,
    state: Any,
) -> None:
    """Record `state` (JSON) as the stream's state at `version`, in the caller's transaction.
    Nothing is written unless all `version` events are there (never a state ahead of them)."""
    await conn.execute(_WRITE, tenant_id, stream_type, stream_id, version, state_version, state)


async def forget_snapshots(conn: asyncpg.Connection, stream_type: str, stream_id: UUID) -> None:
    """Drop a stream's snapshots (they are derived, so nothing is lost: loads replay events)."""
    await conn.execute(
        "DELETE FROM snapshots WHERE stream_type = $1 AND stream_id = $2", stream_type, stream_id
    )


async def forget_snapshots_about(conn: asyncpg.Connection, patient_id: UUID) -> None:
    """Drop the snapshot of every stream whose state names the patient (`patient_id`: their
    visits, admissions, appointments, medication record...): such states may hold values
    sealed in their events in the clear. Every type, not a list of those known to: a snapshot
    is only a cache, and a list would go stale with the next stream type."""
    await conn.execute("DELETE FROM snapshots WHERE state->>'patient_id' = $1", str(patient_id))
