"""Events of the scheduling context."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from uuid import UUID

from backend.kernel.events import DomainEvent, register


@register
@dataclass(frozen=True)
class AppointmentRequested(DomainEvent):
    appointment_id: UUID
    patient_id: UUID
    practitioner_id: UUID
    start: dt.datetime
    end: dt.datetime
    reason: str | None


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
