"""The auditor's view: any stream's state at a version, as of a transaction time, valid at a
clinical time, or both (bitemporal); and its full history."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from backend.api.deps import require, tenant_of
from backend.api.reads import json_response
from backend.api.types import MAX_VERSION, Instant
from backend.auth.principal import Principal, Role
from backend.eventstore import EventStore, RecordedEvent
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


async def _events(
    request: Request, principal: Principal, stream_type: str, stream_id: UUID
) -> list[RecordedEvent]:
    store: EventStore = request.app.state.store
    async with store.transaction(tenant_of(principal)) as conn:
        events = await keys.unseal(conn, await store.read_stream(conn, stream_type, stream_id))
    if not events:
        raise NotFound(f"{stream_type} {stream_id} not found")
    return events


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
    """The state folded from the latest snapshot inside the cut plus the events after it."""
    aggregate = _aggregate(stream_type)
    store: EventStore = request.app.state.store
    async with store.transaction(tenant_of(principal)) as conn:
        folded = await fold_stream(
            conn,
            aggregate,
            stream_id,
            up_to_version=version,
            recorded_by=as_of,
            occurred_by=valid_at,
        )
    if folded.version == 0:
        raise NotFound(f"{stream_type} {stream_id} not found at that point")
    return json_response(
        {
            "stream_type": stream_type,
            "stream_id": stream_id,
            "version": folded.version,
            "position": folded.position,
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
    events = await _events(request, principal, stream_type, stream_id)
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
    }
