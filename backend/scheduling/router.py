"""HTTP routes of the scheduling context."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from backend.api.commands import execute
from backend.api.deps import require, tenant_of
from backend.api.reads import MinPosition, read_model, read_model_response, read_one
from backend.api.types import Instant, Text
from backend.auth.principal import STAFF, Principal, Role
from backend.scheduling import service
from projections.read_models import APPOINTMENTS

router = APIRouter(prefix="/v1/appointments", tags=["scheduling"])
Staff = Annotated[Principal, Depends(require(*STAFF))]
Readers = Annotated[Principal, Depends(require(*STAFF, Role.AUDITOR))]
CheckingIn = Annotated[Principal, Depends(require(*STAFF, Role.PATIENT))]
Status = Literal["requested", "confirmed", "cancelled", "checked_in", "completed", "no_show"]


class NewAppointment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patient_id: UUID
    practitioner_id: UUID
    start: Instant
    end: Instant
    reason: Text | None = Field(default=None, max_length=500)


class Cancellation(BaseModel):
    reason: Text = Field(min_length=1, max_length=500)


class CheckIn(BaseModel):
    override_reason: Text | None = Field(default=None, max_length=500)


@router.post("", status_code=201)
async def request_appointment(body: NewAppointment, request: Request, principal: Staff) -> Response:
    start, end = body.start, body.end
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.request_appointment(
            s, uuid4(), body.patient_id, body.practitioner_id, start, end, body.reason
        ),
        status_code=201,
    )


@router.post("/{appointment_id}/confirm")
async def confirm(appointment_id: UUID, request: Request, principal: Staff) -> Response:
    return await execute(
        request, principal, tenant_of(principal), lambda s: service.confirm(s, appointment_id)
    )


@router.post("/{appointment_id}/cancel")
async def cancel(
    appointment_id: UUID, body: Cancellation, request: Request, principal: Staff
) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.cancel(s, appointment_id, body.reason),
    )


@router.post("/{appointment_id}/check-in")
async def check_in(
    appointment_id: UUID, request: Request, principal: CheckingIn, body: CheckIn | None = None
) -> Response:
    reason = body.override_reason if body else None
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.check_in(s, appointment_id, reason),
    )


@router.post("/{appointment_id}/complete")
async def complete(appointment_id: UUID, request: Request, principal: Staff) -> Response:
    return await execute(
        request, principal, tenant_of(principal), lambda s: service.complete(s, appointment_id)
    )


@router.post("/{appointment_id}/no-show")
async def no_show(appointment_id: UUID, request: Request, principal: Staff) -> Response:
    return await execute(
        request, principal, tenant_of(principal), lambda s: service.mark_no_show(s, appointment_id)
    )


@router.get("/{appointment_id}")
async def get_appointment(
    appointment_id: UUID, request: Request, principal: Readers, min_position: MinPosition = None
) -> Response:
    return await read_one(
        request,
        principal,
        APPOINTMENTS,
        appointment_id,
        min_position,
        "appointment",
    )


@router.get("")
async def list_appointments(
    request: Request,
    principal: Readers,
    date: Annotated[dt.date | None, Query(description="UTC day of the start")] = None,
    practitioner_id: UUID | None = None,
    status: Status | None = None,
    min_position: MinPosition = None,
) -> Response:
    async with read_model(request, principal, APPOINTMENTS.name, min_position) as (conn, at):
        rows = await conn.fetch(
            "SELECT * FROM rm_appointments WHERE ($1::date IS NULL OR day = $1)"
            " AND ($2::uuid IS NULL OR practitioner_id = $2)"
            " AND ($3::text IS NULL OR status = $3)"
            " ORDER BY start_at, appointment_id",
            date,
            practitioner_id,
            status,
        )
    return read_model_response({"items": [APPOINTMENTS.view_of(r) for r in rows]}, at)
