"""Events of the scheduling context."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

from backend.kernel.events import DomainEvent, register, upcaster


@register
@dataclass(frozen=True)
class AppointmentRequested(DomainEvent):
    """The reason is sealed under the patient's key. v2 added `back_charting_reason`: why staff
    booked a start already past (else None)."""

    schema_version: ClassVar[int] = 2
    personal: ClassVar[tuple[str, ...]] = ("reason",)
    subject: ClassVar[str] = "patient_id"

    appointment_id: UUID
    patient_id: UUID
    practitioner_id: UUID
    start: dt.datetime
    end: dt.datetime
    reason: str | None
    back_charting_reason: str | None


@upcaster("AppointmentRequested", 1)
def _appointment_requested_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Before v2 no booking could start in the past (nor was it checked): none was back-charted."""
    return {**data, "back_charting_reason": None}


@register
@dataclass(frozen=True)
class AppointmentConfirmed(DomainEvent):
    appointment_id: UUID


@register
@dataclass(frozen=True)
class AppointmentCancelled(DomainEvent):
    appointment_id: UUID
    reason: str


@register
@dataclass(frozen=True)
class PatientCheckedIn(DomainEvent):
    """`override_reason` is set when staff checked the patient in outside the window."""

    appointment_id: UUID
    checked_in_at: dt.datetime
    override_reason: str | None


@register
@dataclass(frozen=True)
class AppointmentCompleted(DomainEvent):
    appointment_id: UUID


@register
@dataclass(frozen=True)
class AppointmentMarkedNoShow(DomainEvent):
    appointment_id: UUID


@register
@dataclass(frozen=True)
class AppointmentVisitOpened(DomainEvent):
    """Appended by the visit's opening, in its transaction: the appointment stream knows its
    visit, so a cancel or no-show racing the opening conflicts on this stream and is decided
    again on it."""

    appointment_id: UUID
    visit_id: UUID


@register
@dataclass(frozen=True)
class SlotReserved(DomainEvent):
    """On a practitioner's day schedule stream: the time is held for an appointment."""

    practitioner_id: UUID
    appointment_id: UUID
    start: dt.datetime
    end: dt.datetime


@register
@dataclass(frozen=True)
class SlotReleased(DomainEvent):
    practitioner_id: UUID
    appointment_id: UUID


@register
@dataclass(frozen=True)
class PatientTimeHeld(DomainEvent):
    """On a patient's day schedule stream: the patient is booked then (see schedule.py)."""

    patient_id: UUID
    appointment_id: UUID
    start: dt.datetime
    end: dt.datetime


@register
@dataclass(frozen=True)
class PatientTimeFreed(DomainEvent):
    patient_id: UUID
    appointment_id: UUID


@register
@dataclass(frozen=True)
class WorkingHoursSet(DomainEvent):
    """On a practitioner's working-hours stream (hours.py): the whole weekly template, replacing
    the last one. Each period reads "<mon..sun> HH:MM-HH:MM" in the tenant's time zone."""

    practitioner_id: UUID
    weekly: tuple[str, ...]
    slot_minutes: int


@register
@dataclass(frozen=True)
class TimeOffAdded(DomainEvent):
    """Leave or a holiday: every day from `first_day` to `last_day` (local days), all day when
    `start` and `end` are None, else from `start` to `end` ("HH:MM") on each of them."""

    practitioner_id: UUID
    time_off_id: UUID
    first_day: dt.date
    last_day: dt.date
    start: str | None
    end: str | None
    reason: str | None


@register
@dataclass(frozen=True)
class TimeOffRemoved(DomainEvent):
    practitioner_id: UUID
    time_off_id: UUID


@register
@dataclass(frozen=True)
class BookedOutsideWorkingHours(DomainEvent):
    """On the appointment's stream, beside its AppointmentRequested: staff booked it outside
    the practitioner's working hours, and why."""

    appointment_id: UUID
    reason: str


@register
@dataclass(frozen=True)
class SlotHoldPlaced(DomainEvent):
    """On the hold's own stream (holds.py): the time is held until `expires_at`."""

    hold_id: UUID
    practitioner_id: UUID
    patient_id: UUID | None
    start: dt.datetime
    end: dt.datetime
    expires_at: dt.datetime


@register
@dataclass(frozen=True)
class SlotHoldConfirmed(DomainEvent):
    hold_id: UUID
    appointment_id: UUID


@register
@dataclass(frozen=True)
class SlotHoldExpired(DomainEvent):
    """Written by the scheduling timers (timers.py) once the hold's time ran out unconfirmed."""

    hold_id: UUID


@register
@dataclass(frozen=True)
class SlotHeld(DomainEvent):
    """On a practitioner's day schedule stream: the time is held (not booked) until
    `expires_at`."""

    practitioner_id: UUID
    hold_id: UUID
    start: dt.datetime
    end: dt.datetime
    expires_at: dt.datetime


@register
@dataclass(frozen=True)
class SlotHoldReleased(DomainEvent):
    """On a practitioner's day schedule stream: the hold ended (confirmed or expired)."""

    practitioner_id: UUID
    hold_id: UUID
