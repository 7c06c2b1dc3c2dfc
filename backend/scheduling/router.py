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
from backend.api.paging import Cursor, Keyset, Limit, page
from backend.api.query import declared_query_only
from backend.api.reads import MinPosition, read_model, read_model_response, read_one
from backend.api.types import Day, Text, TypedInstant
from backend.auth.principal import STAFF, Principal, Role, listed_patient, may_read_patient
from backend.kernel.errors import NotFound
from backend.kernel.local_days import day_bounds
from backend.scheduling import model, service
from backend.scheduling.model import HOLDS_SLOT
from backend.scheduling.projections import APPOINTMENTS
from backend.tenancy.zone import tenant_zone

router = APIRouter(
    prefix="/v1/appointments", tags=["scheduling"], dependencies=[Depends(declared_query_only)]
)
practitioner_days = APIRouter(
    prefix="/v1", tags=["scheduling"], dependencies=[Depends(declared_query_only)]
)
"""A practitioner's day, free and busy, from the appointments read model."""
Staff = Annotated[Principal, Depends(require(*STAFF))]
Readers = Annotated[Principal, Depends(require(*STAFF, Role.AUDITOR, Role.PATIENT))]
"""A patient reads their own appointments only (backend/auth/principal.py: who a patient is)."""
CheckingIn = Annotated[Principal, Depends(require(*STAFF, Role.PATIENT))]
Status = Literal["requested", "confirmed", "cancelled", "checked_in", "completed", "no_show"]


class NewAppointment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patient_id: UUID
    practitioner_id: UUID
    start: TypedInstant = Field(
        description="RFC 3339 with the clinic's offset at that time, or UTC (another offset: 422)"
    )
    end: TypedInstant
    reason: Text | None = Field(default=None, max_length=500)
    back_charting_reason: Text | None = Field(
        default=None,
        max_length=500,
        description="why a start already past is booked (staff charting what happened); "
        "recorded on the booking, required for a start in the past",
    )
    hours_override_reason: Text | None = Field(
        default=None,
        max_length=500,
        description="why staff book outside the practitioner's working hours; recorded "
        "(BookedOutsideWorkingHours), required for such a time",
    )


class Cancellation(BaseModel):
    reason: Text = Field(min_length=1, max_length=500)


class CheckIn(BaseModel):
    override_reason: Text | None = Field(default=None, max_length=500)


@router.post("", status_code=201)
async def request_appointment(body: NewAppointment, request: Request, principal: Staff) -> Response:
    booking = model.Booking(
        uuid4(),
        body.patient_id,
        body.practitioner_id,
        body.start.astimezone(dt.UTC),
        body.end.astimezone(dt.UTC),
        body.reason,
        body.back_charting_reason,
        body.hours_override_reason,
        typed=(body.start, body.end),
    )
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.request_appointment(s, booking),
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
    """A patient reads only their own appointments; any other is 404 to them."""
    return await read_one(
        request,
        principal,
        APPOINTMENTS,
        appointment_id,
        min_position,
        "appointment",
        lambda row: may_read_patient(principal, row["patient_id"]),
    )


BY_START = Keyset((("start_at", "timestamptz"), ("appointment_id", "uuid")))


@router.get("")
async def list_appointments(
    request: Request,
    principal: Readers,
    date: Annotated[
        Day | None, Query(description="day of the start in the tenant's time zone")
    ] = None,
    practitioner_id: UUID | None = None,
    patient_id: UUID | None = None,
    status: Status | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
    min_position: MinPosition = None,
) -> Response:
    """By start, a page at a time; `date` is a day in the tenant's time zone. A patient's list
    is their own appointments (another `patient_id` is refused)."""
    patient_id = listed_patient(principal, patient_id)
    async with read_model(request, principal, APPOINTMENTS.name, min_position) as (conn, at):
        since, until = (
            day_bounds(date, await tenant_zone(conn, tenant_of(principal)))
            if date is not None
            else (None, None)
        )
        body = await page(
            conn,
            "SELECT * FROM rm_appointments",
            "($1::timestamptz IS NULL OR (start_at >= $1 AND start_at < $2))"
            " AND ($3::uuid IS NULL OR practitioner_id = $3)"
            " AND ($4::text IS NULL OR status = $4)"
            " AND ($5::uuid IS NULL OR patient_id = $5)",
            (since, until, practitioner_id, status, patient_id),
            BY_START,
            cursor,
            limit,
            APPOINTMENTS.view_of,
        )
    return read_model_response(body, at)


@practitioner_days.get("/practitioners/{practitioner_id}/day")
async def practitioner_day(
    practitioner_id: UUID,
    date: Day,
    request: Request,
    principal: Staff,
    min_position: MinPosition = None,
) -> Response:
    """The practitioner's day in the tenant's time zone: appointments that hold time (busy) and
    the gaps (free), from the zone's midnight to the next."""
    names = (APPOINTMENTS.name, "practitioners")  # the tenancy context's read model, by name
    async with read_model(request, principal, names, min_position) as (conn, position):
        zone = await tenant_zone(conn, tenant_of(principal))
        day_start, day_end = day_bounds(date, zone)
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
    body = {
        "practitioner_id": practitioner_id,
        "date": date,
        "time_zone": zone.key,
        "busy": busy,
        "free": free,
    }
    return read_model_response(body, position)
