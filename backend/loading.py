"""Fold a stream into its aggregate's state: from the latest usable snapshot plus the events
after it, and write a new snapshot when a command moves a stream past its interval."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID

import asyncpg
import structlog

from backend.eventstore.snapshots import read_from_snapshot, write_snapshot
from backend.kernel import state_codec
from backend.kernel.aggregate import Aggregate
from backend.kernel.events import revive
from backend.privacy import keys

S = TypeVar("S")
log = structlog.get_logger("caretrail.snapshots")


@dataclass(frozen=True)
class Folded(Generic[S]):
    state: S
    version: int
    """0: no event inside the cut."""
    position: int
    replayed: int
    """How many events were folded (the rest came from a snapshot)."""


async def fold_stream(
    conn: asyncpg.Connection,
    aggregate: Aggregate[S],
    stream_id: UUID,
    *,
    up_to_version: int | None = None,
    recorded_by: dt.datetime | None = None,
    occurred_by: dt.datetime | None = None,
) -> Folded[S]:
    """The stream's state inside the cut (a version, a recording time, a clinical time)."""
    cuts: dict[str, Any] = {
        "up_to_version": up_to_version,
        "recorded_by": recorded_by,
        "occurred_by": occurred_by,
    }
    snapshot, events = await read_from_snapshot(
        conn, aggregate.stream_type, stream_id, aggregate.snapshot_version, **cuts
    )
    events = await keys.unseal(conn, events)
    state, version, position = aggregate.initial(), 0, 0
    if snapshot is not None:
        try:
            state = state_codec.decode(type(state), snapshot.state)
            version, position = snapshot.version, snapshot.position
        except (TypeError, ValueError, KeyError) as e:
            log.warning("snapshot_unreadable", stream_type=aggregate.stream_type, error=str(e))
            return await _without_snapshot(conn, aggregate, stream_id, cuts)
    for event in events:
        state = aggregate.evolve(state, revive(event))
    if events:
        version, position = events[-1].version, events[-1].position
    return Folded(state, version, position, len(events))


async def _without_snapshot(
    conn: asyncpg.Connection, aggregate: Aggregate[S], stream_id: UUID, cuts: dict[str, Any]
) -> Folded[S]:
    no_state_version = -1  # matches no snapshot: every event inside the cut is read
    _, events = await read_from_snapshot(
        conn, aggregate.stream_type, stream_id, no_state_version, **cuts
    )
    state = aggregate.fold(revive(e) for e in await keys.unseal(conn, events))
    last = events[-1] if events else None
    return Folded(state, last.version if last else 0, last.position if last else 0, len(events))


async def save_snapshot(
    conn: asyncpg.Connection,
    tenant_id: UUID,
    aggregate: Aggregate[Any],
    stream_id: UUID,
    version: int,
    state: Any,
) -> None:
    """Snapshot `state` at `version` (the caller decided it is due), unless the state codec
    would not revive it exactly."""
    if not state_codec.round_trips(state):
        log.warning("snapshot_skipped", stream_type=aggregate.stream_type, reason="no round trip")
        return
    await write_snapshot(
        conn,
        tenant_id,
        aggregate.stream_type,
        stream_id,
        version,
        aggregate.snapshot_version,
        state_codec.encode(state),
    )
