"""HTTP routes of the tenancy context."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from backend.api.commands import execute
from backend.api.deps import require, tenant_of
from backend.api.reads import read_stream_view
from backend.api.types import Text
from backend.auth.principal import STAFF, Principal, Role
from backend.tenancy import model, service

router = APIRouter(prefix="/v1", tags=["tenancy"])


class NewTenant(BaseModel):
    name: Text = Field(min_length=1, max_length=200)
    slug: Text = Field(min_length=1, max_length=63)


class NewPractitioner(BaseModel):
    name: Text = Field(min_length=1, max_length=200)
    specialty: Text | None = Field(default=None, max_length=100)


@router.post("/tenants", status_code=201)
async def create_tenant(
    body: NewTenant,
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.PLATFORM_ADMIN))],
) -> Response:
    settings = request.app.state.settings
    return await execute(
        request,
        principal,
        uuid4(),
        lambda s: service.create_tenant(
            s,
            body.name,
            body.slug,
            settings.checkin_opens_before_min,
            settings.checkin_closes_after_min,
        ),
        status_code=201,
    )


@router.post("/practitioners", status_code=201)
async def register_practitioner(
    body: NewPractitioner,
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.CLINIC_ADMIN))],
) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.register_practitioner(s, uuid4(), body.name, body.specialty),
        status_code=201,
    )


@router.get("/practitioners/{practitioner_id}")
async def get_practitioner(
    practitioner_id: UUID,
    request: Request,
    principal: Annotated[Principal, Depends(require(*STAFF))],
) -> Response:
    return await read_stream_view(request, principal, model.PRACTITIONER, practitioner_id)
