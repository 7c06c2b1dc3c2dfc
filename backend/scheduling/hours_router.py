"""HTTP routes of working hours (hours.py), holds (holds.py) and the free slots they leave."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from backend.api.commands import execute
from backend.api.deps import require, tenant_of
from backend.api.query import declared_query_only
from backend.api.reads import (
    MinPosition,
    json_response,
    read_model,
    read_model_response,
    read_one,
)
from backend.api.types import Day, Instant, Text
from backend.auth.principal import (
    STAFF,
    Principal,
    Role,
    listed_patient,
    may_read_patient,
    reads_every_patient,
)
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.local_days import day_bounds
from backend.loading import fold_stream
from backend.scheduling import holds, hours, service
from backend.scheduling.model import HOLDS_SLOT
from backend.scheduling.projections import APPOINTMENTS, HOLDS
from backend.tenancy.zone import tenant_zone

router = APIRouter(prefix="/v1", tags=["scheduling"], dependencies=[Depends(declared_query_only)])
MAX_SLOT_DAYS = 31
"""The longest range of days `GET /v1/slots` answers for (a month, at most ~9,000 slots)."""
Desk = Annotated[Principal, Depends(require(Role.CLINIC_ADMIN, Role.RECEPTIONIST))]
"""Who sets working hours and time off."""
Staff = Annotated[Principal, Depends(require(*STAFF))]
Booking = Annotated[Principal, Depends(require(*STAFF, Role.PATIENT))]
"""Staff, and a patient for themselves (online booking), see free slots and hold them."""


class PeriodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weekday: str = Field(description="mon, tue, wed, thu, fri, sat or sun")
    start: str = Field(description="HH:MM in the tenant's time zone")
    end: str = Field(description="HH:MM (24:00: midnight at the day's end)")


class WorkingHoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weekly: list[PeriodIn] = Field(max_length=7 * 24)
    slot_minutes: int = Field(description=f"{hours.MIN_SLOT} to {hours.MAX_SLOT}")


class TimeOffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    first_day: Day
    last_day: Day
    start: str | None = Field(default=None, description="HH:MM; none: the whole day")
    end: str | None = Field(default=None, description="HH:MM (24:00 allowed)")
    reason: Text | None = Field(default=None, max_length=500)


class NewHold(BaseModel):
    model_config = ConfigDict(extra="forbid")
    practitioner_id: UUID
    patient_id: UUID | None = None
    start: Instant
    end: Instant


class HoldConfirmation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patient_id: UUID | None = None
    reason: Text | None = Field(default=None, max_length=500)


@router.put("/practitioners/{practitioner_id}/working-hours")
async def set_working_hours(
    practitioner_id: UUID, body: WorkingHoursIn, request: Request, principal: Desk
) -> Response:
    """The whole weekly template, replacing the last one (time off is kept)."""
    periods = [hours.period(i, p.weekday, p.start, p.end) for i, p in enumerate(body.weekly)]
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.set_working_hours(s, practitioner_id, periods, body.slot_minutes),
    )


@router.get("/practitioners/{practitioner_id}/working-hours")
async def get_working_hours(practitioner_id: UUID, request: Request, principal: Staff) -> Response:
    """Folded from the hours' stream: always current."""
    stream_id = hours.hours_stream_id(practitioner_id)
    async with request.app.state.store.transaction(tenant_of(principal)) as conn:
        loaded = await fold_stream(conn, hours.WORKING_HOURS, stream_id)
    if loaded.state.practitioner_id is None:
        raise NotFound(f"practitioner {practitioner_id} has no working hours")
    body = {**hours.view(loaded.state), "version": loaded.version}
    return json_response(body, {"ETag": f'"{loaded.version}"'})


@router.post("/practitioners/{practitioner_id}/time-off", status_code=201)
async def add_time_off(
    practitioner_id: UUID, body: TimeOffIn, request: Request, principal: Desk
) -> Response:
    start = None if body.start is None else hours.clock_text(hours.parse_clock("start", body.start))
    end = None if body.end is None else hours.clock_text(hours.end_clock("end", body.end))
    off = hours.TimeOff(body.first_day, body.last_day, start, end, body.reason)
    time_off_id = uuid4()
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.add_time_off(s, practitioner_id, time_off_id, off),
        status_code=201,
    )


@router.delete("/practitioners/{practitioner_id}/time-off/{time_off_id}")
async def remove_time_off(
    practitioner_id: UUID, time_off_id: UUID, request: Request, principal: Desk
) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.remove_time_off(s, practitioner_id, time_off_id),
    )


@router.get("/slots")
async def free_slots(
    practitioner_id: UUID,
    request: Request,
    principal: Booking,
    first: Annotated[Day, Query(alias="from", description="first local day")],
    last: Annotated[Day, Query(alias="to", description="last local day (inclusive)")],
    min_position: MinPosition = None,
) -> Response:
    """The practitioner's free slots from `from` to `to` (days in the tenant's time zone, at
    most 31): working hours less time off, less the appointments that hold time and the holds
    still running, from now on."""
    if last < first:
        raise Invalid("to", "must not be before from")
    if (last - first).days >= MAX_SLOT_DAYS:
        raise Invalid("to", f"at most {MAX_SLOT_DAYS} days from `from`")
    names = (APPOINTMENTS.name, HOLDS.name, "practitioners")  # the last is tenancy's, by name
    now = dt.datetime.now(dt.UTC)
    async with read_model(request, principal, names, min_position) as (conn, at):
        known = await conn.fetchval(
            "SELECT 1 FROM rm_practitioners WHERE practitioner_id = $1", practitioner_id
        )
        zone = await tenant_zone(conn, tenant_of(principal))
        working = await fold_stream(
            conn, hours.WORKING_HOURS, hours.hours_stream_id(practitioner_id)
        )
        since, _ = day_bounds(first, zone)
        _, until = day_bounds(last, zone)
        busy = await conn.fetch(
            "SELECT start_at, end_at FROM rm_appointments WHERE practitioner_id = $1"
            " AND start_at < $3 AND end_at > $2 AND status = ANY($4)"
            " UNION ALL SELECT start_at, end_at FROM rm_slot_holds WHERE practitioner_id = $1"
            " AND start_at < $3 AND end_at > $2 AND status = 'held' AND expires_at > $5",
            practitioner_id,
            since,
            until,
            sorted(HOLDS_SLOT),
            now,
        )
    if not known:
        raise NotFound(f"practitioner {practitioner_id} not found")
    if working.state.practitioner_id is None:
        raise Conflict(
            "NO_WORKING_HOURS",
            f"practitioner {practitioner_id} has no working hours: any time may be booked",
        )
    taken = [(r["start_at"], r["end_at"]) for r in busy]
    slots = hours.free_slots(working.state, zone, first, last, taken, now)
    body = {
        "practitioner_id": practitioner_id,
        "time_zone": zone.key,
        "slot_minutes": working.state.slot_minutes,
        "slots": [{"start": s, "end": e} for s, e in slots],
    }
    return read_model_response(body, at)


@router.post("/holds", status_code=201)
async def place_hold(body: NewHold, request: Request, principal: Booking) -> Response:
    """Holds the time for the tenant's `hold_minutes`; a patient holds for themselves."""
    patient_id = body.patient_id
    if not reads_every_patient(principal):
        patient_id = listed_patient(principal, patient_id)
    new = holds.NewHold(uuid4(), body.practitioner_id, patient_id, body.start, body.end)
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.place_hold(s, new),
        status_code=201,
    )


@router.get("/holds/{hold_id}")
async def get_hold(
    hold_id: UUID, request: Request, principal: Booking, min_position: MinPosition = None
) -> Response:
    """A patient reads only their own holds."""
    return await read_one(
        request,
        principal,
        HOLDS,
        hold_id,
        min_position,
        "hold",
        lambda row: (
            reads_every_patient(principal)
            or (row["patient_id"] is not None and may_read_patient(principal, row["patient_id"]))
        ),
    )


@router.post("/holds/{hold_id}/confirm", status_code=201)
async def confirm_hold(
    hold_id: UUID, request: Request, principal: Booking, body: HoldConfirmation | None = None
) -> Response:
    """The hold becomes an appointment (201, the appointment), under the booking rules."""
    given = body or HoldConfirmation()
    appointment_id = uuid4()
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.confirm_hold(s, hold_id, appointment_id, given.patient_id, given.reason),
        status_code=201,
    )
