"""Fold a stream into its aggregate's state: from the latest usable snapshot plus the events
after it, and write a new snapshot when a command moves a stream past its interval."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID

import asyncpg
import structlog

from backend.eventstore import RecordedEvent
from backend.eventstore.snapshots import Snapshot, read_from_snapshot, write_snapshot
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
    existed: bool
    """Whether the stream's first event is inside the cut: a valid-time cut can hold later
    events that occurred before the stream began (a fact charted for a time before its visit),
    which do not make the stream exist then."""
    unreadable: tuple[RecordedEvent, ...] = ()
    """Folded events whose sealed fields did not open (altered): they read as "[unreadable]"."""


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
    if snapshot is None:
        return _folded(aggregate, aggregate.initial(), events)
    try:
        state = state_codec.decode(type(aggregate.initial()), snapshot.state)
    except (TypeError, ValueError, KeyError) as e:
        log.warning("snapshot_unreadable", stream_type=aggregate.stream_type, error=str(e))
        return await _without_snapshot(conn, aggregate, stream_id, cuts)
    return _folded(aggregate, state, events, snapshot)


def _folded(
    aggregate: Aggregate[S],
    state: S,
    events: list[RecordedEvent],
    snapshot: Snapshot | None = None,
) -> Folded[S]:
    """`state` (the initial one, or the snapshot's) with `events` folded into it."""
    for event in events:
        state = aggregate.evolve(state, revive(event))
    last = events[-1] if events else snapshot
    return Folded(
        state,
        last.version if last else 0,
        last.position if last else 0,
        len(events),
        existed=snapshot is not None or (bool(events) and events[0].version == 1),
        unreadable=tuple(e for e in events if e.unreadable),
    )


async def _without_snapshot(
    conn: asyncpg.Connection, aggregate: Aggregate[S], stream_id: UUID, cuts: dict[str, Any]
) -> Folded[S]:
    no_state_version = -1  # matches no snapshot: every event inside the cut is read
    _, events = await read_from_snapshot(
        conn, aggregate.stream_type, stream_id, no_state_version, **cuts
    )
    return _folded(aggregate, aggregate.initial(), await keys.unseal(conn, events))


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
