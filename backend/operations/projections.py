"""`GET /v1/projections`: where each read model is, how far behind, and why it stopped.

Projections and reactions run over every tenant: their places, lag and last errors (an
error's text may quote another tenant's event) are the platform's, so only platform
operators (PLATFORM_ADMIN, no tenant) read them. A tenant sees its own reads' freshness in
`X-Projection-Position`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from backend.api.deps import require
from backend.api.reads import json_response
from backend.auth.principal import Principal, Role
from projections import liveness

router = APIRouter(prefix="/v1/projections", tags=["operations"])
Operators = Annotated[Principal, Depends(require(Role.PLATFORM_ADMIN))]


@router.get("")
async def projection_status(request: Request, _: Operators) -> Response:
    service = request.app.state.projections
    seen = await liveness.runners(service.pool)
    items = [s.as_dict() for s in await service.status(seen)]
    return json_response(
        {
            "running": service.running(),
            "oldest_write_transaction_seconds": await service.oldest_write_transaction_seconds(),
            "projections": items,
            "relays": [r.as_dict() for r in await service.relays()],
            "runners": [r.as_dict() for r in seen],
        }
    )
