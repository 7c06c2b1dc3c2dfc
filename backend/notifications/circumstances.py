"""What a message depends on at the moment it would be sent (pure).

A message is decided on when it is sent, not when it was queued: the patient may have died or
been erased since, a reminder's appointment may have ended, started or its patient been
admitted, and the tenant's quiet hours are the ones its policy names now. The service loads
these facts from their streams; `reason_to_withdraw` and `model.start_attempt` decide on them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from backend.notifications.quiet_hours import QuietHours
from backend.patients.model import Status

PATIENT_DECEASED = "patient deceased"
PATIENT_ADMITTED = "patient admitted"
APPOINTMENT_STARTED = "appointment started"
QUIET_HOURS_PAST_START = "quiet hours last until after the start"
APPOINTMENT_ENDED = {
    "cancelled": "appointment cancelled",
    "checked_in": "patient checked in",
    "completed": "appointment completed",
    "no_show": "patient did not come (no-show)",
}


@dataclass(frozen=True)
class Appointment:
    """A reminder's appointment as it is now."""

    status: str
    start: dt.datetime


@dataclass(frozen=True)
class Circumstances:
    patient: Status
    quiet_hours: QuietHours
    appointment: Appointment | None = None
    """Set for a reminder (None for other messages, and reminders queued before they named
    their appointment)."""
    inpatient: bool = False
    """Whether the patient has an open admission (only asked for a reminder)."""


def ended(status: str) -> str:
    """Why a reminder is withdrawn once its appointment has this (ended) status."""
    return APPOINTMENT_ENDED.get(status, f"appointment {status}")


def reason_to_withdraw(circumstances: Circumstances, now: dt.datetime) -> str | None:
    """Why the message must not go out at `now` (an erased patient is escalated instead, by
    the caller); None if nothing stands in its way."""
    if circumstances.patient == "deceased":
        return PATIENT_DECEASED
    appointment = circumstances.appointment
    if appointment is None:
        return None
    if appointment.status != "confirmed":
        return ended(appointment.status)
    if appointment.start <= now:
        return APPOINTMENT_STARTED
    if circumstances.inpatient:
        return PATIENT_ADMITTED
    return None


def quiet_hours_reason(circumstances: Circumstances, until: dt.datetime) -> str | None:
    """Why a message held back by quiet hours `until` must be withdrawn rather than wait: a
    reminder that would only go out once its appointment has begun."""
    appointment = circumstances.appointment
    if appointment is not None and until >= appointment.start:
        return QUIET_HOURS_PAST_START
    return None
