"""The auditor's view: any stream's state at a version, as of a transaction time, valid at a
clinical time, or both (bitemporal); and its full history.

Every cut on transaction time (`as_of`, `recorded_to`) is settled first
(backend/eventstore/settling.py): the read waits until no transaction that could still commit an
event recorded by then is running, so what it answers for that moment never changes; a moment
later than the present is answered for the present, and the response says so.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from backend.api import access
from backend.api.deps import require, tenant_of
from backend.api.reads import json_response
from backend.api.types import MAX_VERSION, Instant
from backend.auth.principal import Principal, Role
from backend.eventstore import EventStore, RecordedEvent
from backend.eventstore.settling import settled_moment
from backend.kernel import streams
from backend.kernel.aggregate import Aggregate, aggregate_for
from backend.kernel.errors import NotFound
from backend.loading import fold_stream
from backend.privacy import keys

router = APIRouter(prefix="/v1/streams", tags=["temporal"])
Auditors = Annotated[Principal, Depends(require(Role.AUDITOR, Role.CLINIC_ADMIN))]


def _aggregate(stream_type: str) -> Aggregate[Any]:
    aggregate = aggregate_for(stream_type)
    if aggregate is None:
        raise NotFound(f"unknown stream type {stream_type}")
    return aggregate


async def _settled(request: Request, moment: dt.datetime | None) -> dt.datetime | None:
    """The moment to answer for, once final; None when the read has no transaction-time cut."""
    if moment is None:
        return None
    return await settled_moment(request.app.state.projector_pool, moment)


@router.get("/{stream_type}/{stream_id}")
async def stream_state(
    stream_type: str,
    stream_id: UUID,
    request: Request,
    principal: Auditors,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
    as_of: Annotated[Instant | None, Query(description="recorded by then")] = None,
    valid_at: Annotated[Instant | None, Query(description="occurred by then")] = None,
) -> Response:
    """The state folded from the latest snapshot inside the cut plus the events after it.
    404 when the stream did not exist at that point: no event recorded by `as_of`, its first
    event occurring after `valid_at`, or fewer than `version` events (as recorded by `as_of`)."""
    aggregate = _aggregate(stream_type)
    store: EventStore = request.app.state.store
    as_of = await _settled(request, as_of)
    async with store.transaction(tenant_of(principal)) as conn:
        folded = await fold_stream(
            conn,
            aggregate,
            stream_id,
            up_to_version=version,
            recorded_by=as_of,
            occurred_by=valid_at,
        )
        if folded.version and version is not None and folded.version < version:
            last = await store.stream_version(conn, stream_type, stream_id, recorded_by=as_of)
            if last < version:
                raise NotFound(f"{stream_type} {stream_id} has no version {version} (last: {last})")
        about = _patient_of(stream_type, stream_id, aggregate.view(folded.state))
        await access.record(conn, request, principal, about)
    if folded.version == 0 or (valid_at is not None and not folded.existed):
        raise NotFound(f"{stream_type} {stream_id} not found at that point")
    unreadable = folded.unreadable
    return json_response(
        {
            "stream_type": stream_type,
            "stream_id": stream_id,
            "version": folded.version,
            "position": folded.position,
            "as_of": as_of,
            "unreadable": [{"version": e.version, "position": e.position} for e in unreadable],
            "state": aggregate.view(folded.state),
        }
    )


@router.get("/{stream_type}/{stream_id}/events")
async def stream_events(
    stream_type: str,
    stream_id: UUID,
    request: Request,
    principal: Auditors,
    event_type: Annotated[list[str] | None, Query(description="only these types")] = None,
    recorded_from: Annotated[Instant | None, Query(description="recorded at or after")] = None,
    recorded_to: Annotated[Instant | None, Query(description="recorded before")] = None,
    occurred_from: Annotated[Instant | None, Query(description="occurred at or after")] = None,
    occurred_to: Annotated[Instant | None, Query(description="occurred before")] = None,
) -> Response:
    """The stream's history: every event with its actor, roles, both times, correlation and
    causation ids, optionally filtered by type and by either time."""
    _aggregate(stream_type)
    store: EventStore = request.app.state.store
    recorded_to = await _settled(request, recorded_to)
    async with store.transaction(tenant_of(principal)) as conn:
        events = await keys.unseal(conn, await store.read_stream(conn, stream_type, stream_id))
        about = [p for e in events for p in _patient_of(stream_type, stream_id, e.data)]
        await access.record(conn, request, principal, about)
    if not events:
        raise NotFound(f"{stream_type} {stream_id} not found")
    kept = [
        e
        for e in events
        if (not event_type or e.event_type in event_type)
        and _within(e.recorded_at, recorded_from, recorded_to)
        and _within(e.occurred_at, occurred_from, occurred_to)
    ]
    return json_response(
        {
            "stream_type": stream_type,
            "stream_id": stream_id,
            "version": events[-1].version,
            "recorded_to": recorded_to,
            "events": [_history_entry(e) for e in kept],
        }
    )


def _within(moment: dt.datetime, start: dt.datetime | None, end: dt.datetime | None) -> bool:
    return (start is None or moment >= start) and (end is None or moment < end)


def _history_entry(e: RecordedEvent) -> dict[str, Any]:
    return {
        "position": e.position,
        "version": e.version,
        "type": e.event_type,
        "schema_version": e.schema_version,
        "data": e.data,
        "occurred_at": e.occurred_at,
        "recorded_at": e.recorded_at,
        "actor": e.metadata.get("actor"),
        "roles": e.metadata.get("roles", []),
        "request_id": e.metadata.get("request_id"),
        "correlation_id": e.metadata.get("correlation_id"),
        "causation_id": e.metadata.get("causation_id"),
        "plugins": e.metadata.get("plugins", {}),
        "unreadable": e.unreadable,
    }


def _patient_of(stream_type: str, stream_id: UUID, data: dict[str, Any]) -> list[UUID]:
    """The patient a stream's state or event is about: the patient's own stream, or the one it
    names (`patient_id`), for the access log."""
    if stream_type == streams.PATIENT:
        return [stream_id]
    named = data.get("patient_id")
    try:
        return [] if named is None else [UUID(str(named))]
    except ValueError:
        return []
