"""HTTP routes of the auditor's view beyond stream state: chain verification and export."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from backend.api.deps import require, tenant_of
from backend.api.reads import json_response
from backend.audit.chain import verify_stream
from backend.auth.principal import Principal, Role
from backend.eventstore import EventStore
from backend.kernel.aggregate import aggregate_for
from backend.kernel.errors import NotFound

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
