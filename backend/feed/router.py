"""GET /v1/events: the caller's tenant's events in commit order, a page at a time.

The order is the store's gap-safe global order (tx_id, position), read as the projections read
it: only events of transactions below the event horizon (GlobalReader.horizon), so an event
whose transaction commits late, with a lower position than events already served, is never
stepped over. The cursor is the place (tx_id, position) reached: after the last event of a
full page, else the horizon itself (every event below it has been served), so a caller that
keeps the cursor and asks again gets every event once, in order, whatever it filters on.

The tenant's rows are read in a tenant transaction (RLS). Personal fields are opened (or read
redacted, once erased) for callers entitled to them (staff, a key with `patients:read`);
for other keys they are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from backend.api import access
from backend.api.deps import require, tenant_of
from backend.api.paging import Cursor, Keyset, Limit
from backend.api.query import declared_query_only
from backend.api.reads import json_response
from backend.auth.principal import Principal, Role
from backend.auth.scopes import PATIENTS_READ
from backend.eventstore import EventStore, RecordedEvent
from backend.eventstore.store import GlobalReader, read_tenant_after
from backend.eventstore.types import GlobalCheckpoint
from backend.kernel.errors import Invalid
from backend.kernel.events import event_class
from backend.privacy import keys
from backend.privacy.sealing import is_sealed, withheld_data

router = APIRouter(prefix="/v1", tags=["events"], dependencies=[Depends(declared_query_only)])
Readers = Annotated[Principal, Depends(require(Role.AUDITOR, Role.CLINIC_ADMIN))]
PLACE = Keyset((("tx_id", "xid8"), ("position", "bigint")))
MAX_TYPES = 50
_LARGEST = 2**63 - 1
Types = Annotated[
    list[str] | None,
    Query(
        description="only events of these types: repeat the parameter or separate with commas",
    ),
]


@router.get("/events")
async def event_feed(
    request: Request,
    principal: Readers,
    cursor: Cursor = None,
    limit: Limit = 100,
    types: Types = None,
) -> Response:
    """The tenant's events after `cursor` (from the start without one) in commit order:
    `{"items", "next_cursor", "resume_cursor"}`. `next_cursor` is the next page's, null on the
    last page (as every list's); `resume_cursor` is never null: where to go on from later, when
    newer events have settled."""
    after = _place(cursor)
    wanted = _event_types(types)
    tenant_id = tenant_of(principal)
    horizon = await GlobalReader(request.app.state.projector_pool).horizon()
    store: EventStore = request.app.state.store
    personal = _reads_personal(principal)
    async with store.transaction(tenant_id) as conn:
        read = await read_tenant_after(conn, tenant_id, after, horizon, limit + 1, wanted)
        shown = read[:limit]
        if personal:
            shown = await keys.unseal(conn, shown)
        about = (e.data.get("patient_id") for e in shown)
        await access.record(conn, request, principal, _ids(about), always=True)
    more = len(read) > limit
    reached = _place_of(shown[-1]) if more else max(after, GlobalCheckpoint(horizon, 0))
    resume = PLACE.cursor_of({"tx_id": reached.tx_id, "position": reached.position})
    return json_response(
        {
            "items": [_item(e, personal) for e in shown],
            "next_cursor": resume if more else None,
            "resume_cursor": resume,
        }
    )


def _place(cursor: str | None) -> GlobalCheckpoint:
    if cursor is None:
        return GlobalCheckpoint()
    try:
        tx_id, position = (int(v) for v in PLACE.decode(cursor))
    except ValueError:
        raise Invalid("cursor", "not a cursor this list issued") from None
    if not (0 <= tx_id <= _LARGEST and 0 <= position <= _LARGEST):
        raise Invalid("cursor", "not a cursor this list issued")
    return GlobalCheckpoint(tx_id, position)


def _place_of(e: RecordedEvent) -> GlobalCheckpoint:
    return GlobalCheckpoint(e.tx_id, e.position)


def _event_types(types: list[str] | None) -> list[str] | None:
    """The event types asked for, from repeated parameters and comma lists; None: all."""
    if types is None:
        return None
    names = sorted({n.strip() for t in types for n in t.split(",") if n.strip()})
    if not names:
        raise Invalid("types", "name at least one event type, or leave the parameter out")
    if len(names) > MAX_TYPES:
        raise Invalid("types", f"at most {MAX_TYPES} event types")
    for name in names:
        try:
            event_class(name)
        except KeyError:
            raise Invalid("types", f"unknown event type {name}") from None
    return names


def _reads_personal(principal: Principal) -> bool:
    """Staff who may read the feed read personal fields; a key only with `patients:read`."""
    return principal.key_id is None or PATIENTS_READ in principal.scopes


def _item(e: RecordedEvent, personal: bool) -> dict[str, Any]:
    return {
        "position": e.position,
        "type": e.event_type,
        "stream_type": e.stream_type,
        "stream_id": e.stream_id,
        "version": e.version,
        "data": e.data if personal or not is_sealed(e.data) else withheld_data(e.data),
        "occurred_at": e.occurred_at,
        "recorded_at": e.recorded_at,
    }


def _ids(values: Iterable[object]) -> list[UUID]:
    """The patient ids events name (`patient_id` in their data)."""
    found = []
    for value in values:
        try:
            found.append(UUID(str(value)))
        except ValueError:
            continue
    return found
