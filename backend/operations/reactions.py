"""`GET /v1/reactions`: where each reaction is in the global order, and why it stopped."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from backend.api.reads import json_response
from backend.operations.projections import Operators

router = APIRouter(prefix="/v1/reactions", tags=["operations"])


@router.get("")
async def reaction_status(request: Request, _: Operators) -> Response:
    workers = request.app.state.workers
    items = [s.as_dict() for s in await workers.status()]
    return json_response({"running": workers.running(), "reactions": items})
