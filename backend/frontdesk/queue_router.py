"""`GET /v1/queue` and its live stream `GET /v1/queue/stream` (Server-Sent Events).

The stream sends the queue as it is on connecting (`event: snapshot`), then one `event: queue`
per change (a check-in, completion, no-show or cancellation), each with `id:` the change's
global position and the queue of the practitioner it changed, as the read model has it once it
has applied that position. Staff see every queue; a patient their own place only (a change to a
queue they are not in is not sent to them). A client that reconnects with `Last-Event-ID` gets
every change after that id replayed from the store, then the live ones, none twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response, StreamingResponse

from backend.api.deps import require, tenant_of
from backend.api.progress import ProgressWatch
from backend.api.query import declared_query_only
from backend.api.reads import MinPosition, read_model, read_model_response
from backend.auth.principal import STAFF, Principal, Role, reads_every_patient
from backend.eventstore import EventStore, RecordedEvent
from backend.eventstore.store import GlobalReader, read_tenant_after
from backend.eventstore.types import GlobalCheckpoint
from backend.frontdesk.queue import READ_MODEL, own_places, queue_of
from backend.frontdesk.queue_feed import QUEUE_EVENTS, QueueFeed, change_of
from backend.kernel.errors import Invalid
from backend.kernel.jsonable import json_default

router = APIRouter(
    prefix="/v1/queue", tags=["front desk"], dependencies=[Depends(declared_query_only)]
)
Watchers = Annotated[Principal, Depends(require(*STAFF, Role.PATIENT))]
KEEPALIVE_SECONDS = 15.0
WAIT_SECONDS = 5.0
REPLAY_PAGE = 500


def _patient(principal: Principal) -> UUID | None:
    return None if reads_every_patient(principal) else UUID(principal.actor)


@router.get("")
async def get_queue(
    request: Request,
    principal: Watchers,
    practitioner_id: UUID | None = None,
    min_position: MinPosition = None,
) -> Response:
    """Each practitioner's queue today (a patient: their own places)."""
    patient = _patient(principal)
    async with read_model(request, principal, READ_MODEL, min_position) as (conn, at):
        queues = await queue_of(
            conn, tenant_of(principal), dt.datetime.now(dt.UTC), practitioner_id
        )
    body = {"queues": queues} if patient is None else {"places": own_places(queues, patient)}
    return read_model_response(body, at)


@router.get(
    "/stream",
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def stream(
    request: Request,
    principal: Watchers,
    practitioner_id: UUID | None = None,
) -> StreamingResponse:
    last = _last_event_id(request)
    feed: QueueFeed = request.app.state.queue_feed
    changes = feed.listen()  # before the replay: nothing falls between the two

    async def events() -> AsyncIterator[bytes]:
        try:
            async for chunk in _events(request, principal, practitioner_id, last, changes):
                yield chunk
        finally:
            feed.forget(changes)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _events(
    request: Request,
    principal: Principal,
    practitioner_id: UUID | None,
    last_id: int | None,
    changes: asyncio.Queue[dict[str, Any]],
) -> AsyncIterator[bytes]:
    """Places compare in the gap-safe order (transaction id, position), in which the reactions
    announce: an event can commit after one with a higher position, so a position alone would
    let a replay pass over it. The client is sent positions as ids; each is taken back to its
    place."""
    tenant = tenant_of(principal)
    patient = _patient(principal)
    watch: ProgressWatch = request.app.state.progress
    if last_id is None:
        async with read_model(request, principal, READ_MODEL, None) as (conn, at):
            queues = await queue_of(conn, tenant, dt.datetime.now(dt.UTC), practitioner_id)
        sent = await _place(watch, at)
        yield _message(at, "snapshot", _shown(queues, patient, None))
    else:
        after = await _place(watch, last_id)
        missed, horizon = await _missed(request, tenant, after)
        for change in missed:
            message = await _change(request, principal, practitioner_id, patient, change)
            if message is not None:
                yield message
        # Everything below the horizon was read: what is announced from now on lies above it.
        sent = max(after, GlobalCheckpoint(horizon, 0), *(_place_of(c) for c in missed))
    while not await request.is_disconnected():
        try:
            change = await asyncio.wait_for(changes.get(), KEEPALIVE_SECONDS)
        except TimeoutError:
            yield b": keep-alive\n\n"
            continue
        if change["tenant_id"] != str(tenant) or _place_of(change) <= sent:
            continue
        message = await _change(request, principal, practitioner_id, patient, change)
        sent = _place_of(change)
        if message is not None:
            yield message


async def _place(watch: ProgressWatch, position: int) -> GlobalCheckpoint:
    """The place of the event at `position` (an id this stream sent)."""
    place, head = await watch.place_of(position)
    if position > head:
        raise Invalid("Last-Event-ID", f"the store has not reached position {position}")
    return place or GlobalCheckpoint()


def _place_of(change: dict[str, Any]) -> GlobalCheckpoint:
    return GlobalCheckpoint(change["tx_id"], change["position"])


async def _missed(
    request: Request, tenant: UUID, after: GlobalCheckpoint
) -> tuple[list[dict[str, Any]], int]:
    """The tenant's queue changes after `after` in the gap-safe order, from the store, and the
    event horizon they were read below: a change still committing is announced later."""
    horizon = await GlobalReader(request.app.state.projector_pool).horizon()
    store: EventStore = request.app.state.store
    missed: list[RecordedEvent] = []
    async with store.transaction(tenant) as conn:
        while page := await read_tenant_after(
            conn, tenant, after, horizon, REPLAY_PAGE, sorted(QUEUE_EVENTS)
        ):
            missed += page
            after = GlobalCheckpoint(page[-1].tx_id, page[-1].position)
    return [change_of(e) for e in missed], horizon


async def _change(
    request: Request,
    principal: Principal,
    practitioner_id: UUID | None,
    patient: UUID | None,
    change: dict[str, Any],
) -> bytes | None:
    """The change as a message, once the read model has applied it; None if not for this
    client (another practitioner's queue, or one the patient is not concerned by)."""
    watch: ProgressWatch = request.app.state.progress
    await watch.wait([READ_MODEL], _place_of(change), WAIT_SECONDS)
    appointment_id = UUID(change["appointment_id"])
    async with read_model(request, principal, READ_MODEL, None) as (conn, _):
        row = await conn.fetchrow(
            "SELECT practitioner_id, patient_id FROM rm_appointments WHERE appointment_id = $1",
            appointment_id,
        )
        if row is None or practitioner_id not in (None, row["practitioner_id"]):
            return None
        queues = await queue_of(
            conn, tenant_of(principal), dt.datetime.now(dt.UTC), row["practitioner_id"]
        )
    if patient is not None and row["patient_id"] != patient and not own_places(queues, patient):
        return None
    body = _shown(queues, patient, change)
    return _message(change["position"], "queue", body)


def _shown(
    queues: list[dict[str, Any]], patient: UUID | None, change: dict[str, Any] | None
) -> dict[str, Any]:
    body: dict[str, Any] = (
        {"queues": queues} if patient is None else {"places": own_places(queues, patient)}
    )
    if change is not None:  # a patient is not told whose appointment changed
        body["change"] = {"type": change["type"]}
        if patient is None:
            body["change"]["appointment_id"] = change["appointment_id"]
    return body


def _message(position: int, kind: str, body: dict[str, Any]) -> bytes:
    data = orjson.dumps(body, default=json_default).decode()
    return f"id: {position}\nevent: {kind}\ndata: {data}\n\n".encode()


def _last_event_id(request: Request) -> int | None:
    """The `Last-Event-ID` a reconnecting client sends (the last `id:` it received), read from
    the header as browsers send it: a header the OpenAPI document left out, like If-Match,
    since a parameter it may omit would be described as nullable and fuzzed as "null"."""
    raw = request.headers.get("last-event-id")
    if raw is None:
        return None
    if not re.fullmatch(r"[0-9]{1,18}", raw.strip()):
        raise Invalid("Last-Event-ID", "the id of an event this stream sent (digits)")
    return int(raw)
