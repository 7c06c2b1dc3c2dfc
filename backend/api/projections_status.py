"""`GET /v1/projections`: where each read model is, how far behind, and why it stopped."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from backend.api.deps import require
from backend.api.reads import json_response
from backend.auth.principal import Principal, Role

router = APIRouter(prefix="/v1/projections", tags=["operations"])
Operators = Annotated[
    Principal, Depends(require(Role.PLATFORM_ADMIN, Role.CLINIC_ADMIN, Role.AUDITOR))
]


@router.get("")
async def projection_status(request: Request, _: Operators) -> Response:
    service = request.app.state.projections
    items = [s.as_dict() for s in await service.status()]
    return json_response(
        {
            "running": service.running(),
            "oldest_write_transaction_seconds": await service.oldest_write_transaction_seconds(),
            "projections": items,
        }
    )
