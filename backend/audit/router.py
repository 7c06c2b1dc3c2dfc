"""HTTP routes of the auditor's view beyond stream state: chain verification and export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response, StreamingResponse

from backend.api.deps import require, tenant_of
from backend.api.reads import json_response
from backend.api.types import Instant
from backend.audit import export
from backend.audit.chain import verify_stream
from backend.auth.principal import Principal, Role
from backend.eventstore import EventStore
from backend.kernel.aggregate import aggregate_for
from backend.kernel.errors import Invalid, NotFound

router = APIRouter(prefix="/v1", tags=["audit"])
Auditors = Annotated[Principal, Depends(require(Role.AUDITOR, Role.CLINIC_ADMIN))]


@router.get("/streams/{stream_type}/{stream_id}/verify")
async def verify(
    stream_type: str, stream_id: UUID, request: Request, principal: Auditors
) -> Response:
    """Recompute the stream's hash chain and report the first link that does not hold."""
    if aggregate_for(stream_type) is None:
        raise NotFound(f"unknown stream type {stream_type}")
    store: EventStore = request.app.state.store
    async with store.transaction(tenant_of(principal)) as conn:
        report = await verify_stream(conn, stream_type, stream_id)
    if report.events == 0:
        raise NotFound(f"{stream_type} {stream_id} not found")
    broken = report.broken
    return json_response(
        {
            "stream_type": stream_type,
            "stream_id": stream_id,
            "events": report.events,
            "valid": report.valid,
            "head_hash": report.head,
            "first_broken": None
            if broken is None
            else {"version": broken.version, "position": broken.position, "reason": broken.reason},
        }
    )


@router.get(
    "/audit/export",
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "one event a line"}},
)
async def export_events(
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.AUDITOR))],
    start: Annotated[Instant, Query(alias="from", description="recorded at or after")],
    end: Annotated[Instant | None, Query(alias="to", description="recorded before; now")] = None,
) -> Response:
    """Every event of the tenant recorded in [from, to), in recording order, streamed as NDJSON
    in constant memory. `to` later than now (or absent) means now. Headers X-Export-From and
    X-Export-To give the period exported."""
    if end is not None and end <= start:
        raise Invalid("to", "must be after from")
    store: EventStore = request.app.state.store
    tenant_id = tenant_of(principal)
    period = await export.settled_period(request.app.state.projector_pool, start, end)

    async def body() -> AsyncIterator[bytes]:
        async for lines in export.pages(store, tenant_id, period):
            yield export.ndjson(lines)

    return StreamingResponse(
        body(),
        media_type="application/x-ndjson",
        headers={
            "X-Export-From": period.start.isoformat(),
            "X-Export-To": period.end.isoformat(),
        },
    )
