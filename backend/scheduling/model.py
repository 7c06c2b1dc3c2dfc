"""The appointment aggregate: state, evolve, decide (pure)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent
from backend.kernel.local_days import offset_problem
from backend.scheduling.events import (
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentConfirmed,
    AppointmentMarkedNoShow,
    AppointmentRequested,
    AppointmentVisitOpened,
    PatientCheckedIn,
    PatientTimeFreed,
    PatientTimeHeld,
    SlotHoldReleased,
    SlotReleased,
    SlotReserved,
)
from backend.scheduling.schedule import DaySchedule
from backend.tenancy.policy import TenantPolicy

HOLDS_SLOT = frozenset({"requested", "confirmed", "checked_in"})
MAX_LENGTH = dt.timedelta(hours=24)
PATIENT_DOUBLE_BOOKED = "PATIENT_DOUBLE_BOOKED"


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
    visit_id: UUID | None = None
    """The visit opened from this appointment: the patient came."""
    back_charting_reason: str | None = None
    """Why staff booked it with a start already past (recording what happened), else None."""


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
                back_charting_reason=event.back_charting_reason,
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
        case AppointmentVisitOpened():
            return dataclasses.replace(state, visit_id=event.visit_id)
    return state


def view(state: Appointment) -> dict[str, Any]:
    return dataclasses.asdict(state)


@dataclass(frozen=True)
class CheckinWindow:
    opens_before: dt.timedelta
    closes_after: dt.timedelta

    @classmethod
    def of(cls, policy: TenantPolicy) -> CheckinWindow:
        """The tenant's window."""
        return cls(
            dt.timedelta(minutes=policy.checkin_opens_before_min),
            dt.timedelta(minutes=policy.checkin_closes_after_min),
        )

    def starts_open_at(self, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """The earliest and the latest start of an appointment whose check-in is open at `now`
        (on either side of the clinic's midnight)."""
        return now - self.closes_after, now + self.opens_before


@dataclass(frozen=True)
class Booking:
    """What a booking asks for. `back_charting_reason`: staff record an appointment whose start
    is already past (it happened, it is charted now); ignored for a start still to come."""

    appointment_id: UUID
    patient_id: UUID
    practitioner_id: UUID
    start: dt.datetime
    end: dt.datetime
    reason: str | None
    back_charting_reason: str | None = None
    hours_override_reason: str | None = None
    """Why staff book it outside the practitioner's working hours (hours.py)."""
    hold_id: UUID | None = None
    """The hold (holds.py) this booking confirms: its time is not in the way, and is released."""
    typed: tuple[dt.datetime, dt.datetime] | None = None
    """`start` and `end` as they were typed, with their offsets (see `typed_times`)."""
    confirmed: bool = False
    """Booked confirmed at once (AppointmentConfirmed beside its AppointmentRequested, as a
    staff confirmation would record it): the patient accepted a concrete slot offered to them
    (a waitlist offer), so there is nothing left for staff to confirm."""


UTC_ZONES = frozenset({"UTC", "Etc/UTC", "Etc/GMT", "GMT", "Etc/Universal", "Universal"})


def typed_times(booking: Booking, zone: ZoneInfo) -> list[dict[str, str]]:
    """A time typed with an offset the clinic's zone keeps at another time of the year is
    refused (422 naming it: kernel.local_days.offset_problem); a start typed in UTC in a clinic
    elsewhere is taken, with a warning naming its local time (a receptionist who meant 09:00
    local and typed 09:00Z sees it)."""
    if booking.typed is None:
        return []
    for name, typed in zip(("start", "end"), booking.typed, strict=True):
        problem = offset_problem(typed, zone)
        if problem is not None:
            raise Invalid(name, problem)
    start = booking.typed[0]
    if start.utcoffset() != dt.timedelta() or zone.key in UTC_ZONES:
        return []
    local = start.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return [{"rule": "utc_time", "message": f"the start was given in UTC: {local} in {zone.key}"}]


@dataclass(frozen=True)
class Booked:
    events: dict[UUID, list[DomainEvent]]
    """Per stream: the appointment's own (AppointmentRequested, then AppointmentConfirmed for a
    booking confirmed at once), a SlotReserved per practitioner day schedule and a
    PatientTimeHeld per patient day schedule."""
    warnings: list[dict[str, str]]


def request(
    state: Appointment,
    booking: Booking,
    now: dt.datetime,
    days: dict[UUID, DaySchedule],
    patient_days: dict[UUID, DaySchedule],
    double_booking: str,
) -> Booked:
    """`days` and `patient_days`: the practitioner's and the patient's day schedules the time
    touches; `double_booking`: the tenant's policy for a patient booked twice at once."""
    start, end = booking.start, booking.end
    if state.id is not None:
        raise Conflict("APPOINTMENT_EXISTS", "appointment already exists")
    if end <= start:
        raise Invalid("end", "must be after start")
    if end - start > MAX_LENGTH:
        raise Invalid("end", "an appointment lasts at most 24 hours")
    back_charting = _back_charting(start, now, booking.back_charting_reason)
    require_free(days, start, end, now, booking.hold_id)
    warnings = _double_booking(patient_days, start, end, double_booking)
    a_id, patient_id, practitioner_id = (
        booking.appointment_id,
        booking.patient_id,
        booking.practitioner_id,
    )
    requested = AppointmentRequested(
        a_id, patient_id, practitioner_id, start, end, booking.reason, back_charting
    )
    own: list[DomainEvent] = [requested]
    if booking.confirmed:
        own += confirm(evolve(state, requested))
    reserved: list[DomainEvent] = [SlotReserved(practitioner_id, a_id, start, end)]
    if booking.hold_id is not None:
        reserved.insert(0, SlotHoldReleased(practitioner_id, booking.hold_id))
    held = PatientTimeHeld(patient_id, a_id, start, end)
    return Booked(
        {
            a_id: own,
            **{day_id: list(reserved) for day_id in days},
            **{day_id: [held] for day_id in patient_days},
        },
        warnings,
    )


def require_free(
    days: dict[UUID, DaySchedule],
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    ignoring_hold: UUID | None = None,
) -> None:
    """Refuses time booked (SLOT_TAKEN) or held by a hold still running at `now` (SLOT_HELD),
    other than `ignoring_hold`."""
    for day in days.values():
        other = day.overlapping(start, end)
        if other is not None:
            raise Conflict("SLOT_TAKEN", f"the practitioner is booked then (appointment {other})")
    for day in days.values():
        hold = day.held(start, end, now, ignoring_hold)
        if hold is not None:
            raise Conflict("SLOT_HELD", f"the time is held for another booking (hold {hold})")


def _back_charting(start: dt.datetime, now: dt.datetime, reason: str | None) -> str | None:
    """The reason recorded for a start already past; a past start without one is refused."""
    if start >= now:
        return None
    given = (reason or "").strip() or None
    if given is None:
        raise Conflict(
            "APPOINTMENT_IN_PAST",
            "the start is in the past; staff may record it with a back_charting_reason",
        )
    return given


def _double_booking(
    patient_days: dict[UUID, DaySchedule], start: dt.datetime, end: dt.datetime, policy: str
) -> list[dict[str, str]]:
    """The patient's other appointment at that time refuses the booking, or (policy `warn`)
    is named in a warning."""
    others = sorted(
        {str(a) for day in patient_days.values() for a in day.all_overlapping(start, end)}
    )
    if not others:
        return []
    message = f"the patient is booked then (appointment {', '.join(others)})"
    if policy != "warn":
        raise Conflict(PATIENT_DOUBLE_BOOKED, message)
    return [{"rule": PATIENT_DOUBLE_BOOKED.lower(), "message": message}]


def confirm(state: Appointment) -> list[DomainEvent]:
    _exists(state)
    if state.status != "requested":
        raise Conflict("INVALID_STATUS_TRANSITION", f"cannot confirm a {state.status} appointment")
    return [AppointmentConfirmed(_id(state))]


def cancel(state: Appointment, reason: str) -> list[DomainEvent]:
    _exists(state)
    if not reason.strip():
        raise Invalid("reason", "must not be blank")
    _without_visit(state, "cancelled")
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
    _without_visit(state, "marked a no-show")
    if state.status not in ("requested", "confirmed"):
        raise Conflict("INVALID_STATUS_TRANSITION", f"a {state.status} appointment is no no-show")
    assert state.start is not None
    if now < state.start:
        raise Conflict("APPOINTMENT_NOT_STARTED", "a no-show is recorded after the start time")
    return [AppointmentMarkedNoShow(_id(state))]


def no_show_due(state: Appointment, now: dt.datetime, grace: dt.timedelta) -> list[DomainEvent]:
    """The automatic no-show, once `grace` after the start has passed with the patient neither
    checked in nor seen; nothing otherwise. A back-charted appointment is left to staff: it
    records a past visit, charted after the fact."""
    due = (
        state.status in ("requested", "confirmed")
        and state.visit_id is None
        and state.back_charting_reason is None
        and state.start is not None
        and now >= state.start + grace
    )
    return [AppointmentMarkedNoShow(_id(state))] if due else []


def note_visit(state: Appointment, visit_id: UUID) -> list[DomainEvent]:
    """The appointment learns of the visit opened from it (the visits context opens it)."""
    return [AppointmentVisitOpened(_id(state), visit_id)]


def release(state: Appointment) -> SlotReleased:
    """The schedule event that frees the slot once the appointment no longer holds it."""
    assert state.practitioner_id is not None and state.id is not None
    return SlotReleased(state.practitioner_id, state.id)


def free_patient(state: Appointment, patient_day: DaySchedule) -> list[DomainEvent]:
    """Frees the patient's time on a day schedule that holds it (one from before patient
    schedules existed does not: nothing to free)."""
    assert state.patient_id is not None and state.id is not None
    held = state.id in patient_day.slots
    return [PatientTimeFreed(state.patient_id, state.id)] if held else []


def _without_visit(state: Appointment, becoming: str) -> None:
    """A visit was opened from the appointment: the patient came, whatever becomes of the
    visit, so the appointment is neither cancelled nor missed."""
    if state.visit_id is not None:
        raise Conflict(
            "APPOINTMENT_HAS_VISIT",
            f"visit {state.visit_id} was opened from this appointment; it cannot be {becoming}",
        )


def _exists(state: Appointment) -> None:
    if state.id is None:
        raise NotFound("appointment not found")


def _id(state: Appointment) -> UUID:
    assert state.id is not None
    return state.id


APPOINTMENT = register_aggregate(
    Aggregate("appointment", Appointment, evolve, view, snapshot_version=3)
)
