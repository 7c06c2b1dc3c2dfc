"""The appointment aggregate: state, evolve, decide (pure)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent
from backend.scheduling.events import (
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentConfirmed,
    AppointmentMarkedNoShow,
    AppointmentRequested,
    PatientCheckedIn,
    SlotReleased,
    SlotReserved,
)
from backend.scheduling.schedule import DaySchedule

HOLDS_SLOT = frozenset({"requested", "confirmed", "checked_in"})
MAX_LENGTH = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Appointment:
    id: UUID | None = None
    patient_id: UUID | None = None
    practitioner_id: UUID | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    reason: str | None = None
    status: str = "none"
    checked_in_at: dt.datetime | None = None
    checkin_override_reason: str | None = None
    cancel_reason: str | None = None


def evolve(state: Appointment, event: DomainEvent) -> Appointment:
    match event:
        case AppointmentRequested():
            return Appointment(
                event.appointment_id,
                event.patient_id,
                event.practitioner_id,
                event.start,
                event.end,
                event.reason,
                "requested",
            )
        case AppointmentConfirmed():
            return dataclasses.replace(state, status="confirmed")
        case AppointmentCancelled():
            return dataclasses.replace(state, status="cancelled", cancel_reason=event.reason)
        case PatientCheckedIn():
            return dataclasses.replace(
                state,
                status="checked_in",
                checked_in_at=event.checked_in_at,
                checkin_override_reason=event.override_reason,
            )
        case AppointmentCompleted():
            return dataclasses.replace(state, status="completed")
        case AppointmentMarkedNoShow():
            return dataclasses.replace(state, status="no_show")
    return state


def view(state: Appointment) -> dict[str, Any]:
    return dataclasses.asdict(state)


@dataclass(frozen=True)
class CheckinWindow:
    opens_before: dt.timedelta
    closes_after: dt.timedelta


def request(
    state: Appointment,
    appointment_id: UUID,
    patient_id: UUID,
    practitioner_id: UUID,
    start: dt.datetime,
    end: dt.datetime,
    reason: str | None,
    days: dict[UUID, DaySchedule],
) -> dict[UUID, list[DomainEvent]]:
    """Events per stream: the appointment's own and one SlotReserved per day schedule."""
    if state.id is not None:
        raise Conflict("APPOINTMENT_EXISTS", "appointment already exists")
    if end <= start:
        raise Invalid("end", "must be after start")
    if end - start > MAX_LENGTH:
        raise Invalid("end", "an appointment lasts at most 24 hours")
    for day in days.values():
        other = day.overlapping(start, end)
        if other is not None:
            raise Conflict("SLOT_TAKEN", f"the practitioner is booked then (appointment {other})")
    requested = AppointmentRequested(
        appointment_id, patient_id, practitioner_id, start, end, reason
    )
    reserved = SlotReserved(practitioner_id, appointment_id, start, end)
    return {appointment_id: [requested], **{day_id: [reserved] for day_id in days}}


def confirm(state: Appointment) -> list[DomainEvent]:
    _exists(state)
    if state.status != "requested":
        raise Conflict("INVALID_STATUS_TRANSITION", f"cannot confirm a {state.status} appointment")
    return [AppointmentConfirmed(_id(state))]


def cancel(state: Appointment, reason: str) -> list[DomainEvent]:
    _exists(state)
    if not reason.strip():
        raise Invalid("reason", "must not be blank")
    if state.status not in ("requested", "confirmed"):
        raise Conflict("INVALID_STATUS_TRANSITION", f"cannot cancel a {state.status} appointment")
    return [AppointmentCancelled(_id(state), reason.strip())]


def check_in(
    state: Appointment,
    now: dt.datetime,
    window: CheckinWindow,
    override_reason: str | None,
    may_override: bool,
) -> list[DomainEvent]:
    _exists(state)
    if state.status == "checked_in":
        raise Conflict("ALREADY_CHECKED_IN", "the patient is already checked in")
    if state.status != "confirmed":
        raise Conflict("APPOINTMENT_NOT_CONFIRMED", f"the appointment is {state.status}")
    assert state.start is not None
    inside = state.start - window.opens_before <= now <= state.start + window.closes_after
    reason = (override_reason or "").strip() or None
    if not inside and reason is None:
        raise Conflict(
            "OUTSIDE_CHECKIN_WINDOW",
            f"check-in is open from {window.opens_before} before to {window.closes_after} after "
            "the start; staff may override with a reason",
        )
    if not inside and not may_override:
        raise Conflict("OUTSIDE_CHECKIN_WINDOW", "only staff may override the check-in window")
    return [PatientCheckedIn(_id(state), now, None if inside else reason)]


def complete(state: Appointment) -> list[DomainEvent]:
    _exists(state)
    if state.status != "checked_in":
        raise Conflict("INVALID_STATUS_TRANSITION", f"cannot complete a {state.status} appointment")
    return [AppointmentCompleted(_id(state))]


def mark_no_show(state: Appointment, now: dt.datetime) -> list[DomainEvent]:
    _exists(state)
    if state.status not in ("requested", "confirmed"):
        raise Conflict("INVALID_STATUS_TRANSITION", f"a {state.status} appointment is no no-show")
    assert state.start is not None
    if now < state.start:
        raise Conflict("APPOINTMENT_NOT_STARTED", "a no-show is recorded after the start time")
    return [AppointmentMarkedNoShow(_id(state))]


def release(state: Appointment) -> SlotReleased:
    """The schedule event that frees the slot once the appointment no longer holds it."""
    assert state.practitioner_id is not None and state.id is not None
    return SlotReleased(state.practitioner_id, state.id)


def _exists(state: Appointment) -> None:
    if state.id is None:
        raise NotFound("appointment not found")


def _id(state: Appointment) -> UUID:
    assert state.id is not None
    return state.id


APPOINTMENT = register_aggregate(Aggregate("appointment", Appointment, evolve, view))
