"""Reads folded from the event store (until read models serve them)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby
from typing import Any
from uuid import UUID

import orjson
from fastapi import Request
from starlette.responses import Response

from backend.api.deps import tenant_of
from backend.auth.principal import Principal
from backend.eventstore import EventStore, RecordedEvent
from backend.kernel.aggregate import Aggregate
from backend.kernel.errors import NotFound
from backend.kernel.events import from_data


def fold_recorded(aggregate: Aggregate[Any], events: list[RecordedEvent]) -> Any:
    return aggregate.fold(from_data(e.event_type, e.data) for e in events)


def json_response(body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)


async def read_stream_view(
    request: Request, principal: Principal, aggregate: Aggregate[Any], stream_id: UUID
) -> Response:
    store: EventStore = request.app.state.store
    async with store.transaction(tenant_of(principal)) as conn:
        events = await store.read_stream(conn, aggregate.stream_type, stream_id)
    if not events:
        raise NotFound(f"{aggregate.stream_type} {stream_id} not found")
    version = events[-1].version
    body = {**aggregate.view(fold_recorded(aggregate, events)), "version": version}
    return json_response(body, {"ETag": f'"{version}"'})


async def all_views(
    request: Request, principal: Principal, aggregate: Aggregate[Any]
) -> list[dict[str, Any]]:
    """Every stream of a type folded to its view (with version), in stream id order."""
    store: EventStore = request.app.state.store
    async with store.transaction(tenant_of(principal)) as conn:
        events = await store.read_streams_of_type(conn, aggregate.stream_type)
    return [
        {**aggregate.view(fold_recorded(aggregate, group)), "version": group[-1].version}
        for group in _by_stream(events)
    ]


def _by_stream(events: list[RecordedEvent]) -> Iterator[list[RecordedEvent]]:
    for _, group in groupby(events, key=lambda e: e.stream_id):
        yield list(group)
