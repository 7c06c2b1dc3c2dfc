"""HTTP routes of the tenancy context."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from backend.api.commands import execute
from backend.api.deps import require, tenant_of
from backend.api.reads import (
    MinPosition,
    json_response,
    read_model,
    read_model_response,
    read_one,
)
from backend.api.types import Text
from backend.auth.principal import BACK_OFFICE, STAFF, Principal, Role
from backend.kernel.errors import NotFound
from backend.loading import fold_stream
from backend.scheduling.model import HOLDS_SLOT
from backend.tenancy import model, service
from projections.read_models import APPOINTMENTS, PRACTITIONERS

router = APIRouter(prefix="/v1", tags=["tenancy"])
Staff = Annotated[Principal, Depends(require(*STAFF))]


class NewTenant(BaseModel):
    name: Text = Field(min_length=1, max_length=200)
    slug: Text = Field(min_length=1, max_length=63)
    kind: Literal["clinic", "hospital"] = "clinic"
    currency: Text = Field(default="USD", description="ISO 4217 code")


class PolicyChanges(BaseModel):
    """Any subset of the tenant's policy settings (see docs/API.md)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["clinic", "hospital"] | None = None
    currency: Text | None = None
    timezone: Text | None = None
    checkin_opens_before_min: int | None = None
    checkin_closes_after_min: int | None = None
    late_charting_max_hours: int | None = None
    discount_threshold_percent: Text | None = None
    quiet_hours_start: Text | None = Field(default=None, description="HH:MM")
    quiet_hours_end: Text | None = Field(default=None, description="HH:MM")


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
            body.kind,
            body.currency,
        ),
        status_code=201,
    )


@router.get("/tenant")
async def get_tenant(
    request: Request,
    principal: Annotated[Principal, Depends(require(*STAFF, *BACK_OFFICE))],
) -> Response:
    """The caller's tenant with its policy, folded from its stream (always current)."""
    store = request.app.state.store
    tenant_id = tenant_of(principal)
    async with store.transaction(tenant_id) as conn:
        tenant = await fold_stream(conn, model.TENANT, tenant_id)
    if tenant.version == 0:
        raise NotFound("tenant not found")
    body = {**model.tenant_view(tenant.state), "version": tenant.version}
    return json_response(body, {"ETag": f'"{tenant.version}"'})


@router.patch("/tenant/policy")
async def change_policy(
    body: PolicyChanges,
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.CLINIC_ADMIN))],
) -> Response:
    changes = body.model_dump(exclude_none=True)
    return await execute(
        request, principal, tenant_of(principal), lambda s: service.change_policy(s, changes)
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
    practitioner_id: UUID, request: Request, principal: Staff, min_position: MinPosition = None
) -> Response:
    return await read_one(
        request,
        principal,
        PRACTITIONERS,
        practitioner_id,
        min_position,
        "practitioner",
    )


@router.get("/practitioners/{practitioner_id}/day")
async def practitioner_day(
    practitioner_id: UUID,
    date: dt.date,
    request: Request,
    principal: Staff,
    min_position: MinPosition = None,
) -> Response:
    """The practitioner's UTC day: appointments that hold time (busy) and the gaps (free)."""
    day_start = dt.datetime.combine(date, dt.time(), dt.UTC)
    day_end = day_start + dt.timedelta(days=1)
    name = APPOINTMENTS.name
    async with read_model(request, principal, name, min_position) as (conn, position):
        known = await conn.fetchval(
            "SELECT 1 FROM rm_practitioners WHERE practitioner_id = $1", practitioner_id
        )
        rows = await conn.fetch(
            "SELECT appointment_id, start_at, end_at, status FROM rm_appointments"
            " WHERE practitioner_id = $1 AND start_at < $3 AND end_at > $2"
            " AND status = ANY($4) ORDER BY start_at",
            practitioner_id,
            day_start,
            day_end,
            sorted(HOLDS_SLOT),
        )
    if not known:
        raise NotFound(f"practitioner {practitioner_id} not found")
    busy = [
        {
            "appointment_id": r["appointment_id"],
            "start": r["start_at"],
            "end": r["end_at"],
            "status": r["status"],
        }
        for r in rows
    ]
    free, cursor = [], day_start
    for r in rows:
        if r["start_at"] > cursor:
            free.append({"start": cursor, "end": r["start_at"]})
        cursor = max(cursor, r["end_at"])
    if cursor < day_end:
        free.append({"start": cursor, "end": day_end})
    body = {"practitioner_id": practitioner_id, "date": date, "busy": busy, "free": free}
    return read_model_response(body, position)
