"""A practitioner's reserved slots for one UTC day: the stream that makes double booking
impossible. Booking appends to the appointment stream and to every day stream the appointment
touches in one transaction, each with its expected version, so two concurrent overlapping
bookings cannot both commit.

A patient's day schedule is the same for the patient (the patient in two places at once): the
times they are booked, with any practitioner. Appointments booked before these streams existed
are not on them, and their ending frees nothing there.

A hold (holds.py) takes the practitioner's time on the same streams until it expires: a hold
and a booking of the same time conflict like two bookings. A hold whose time ran out frees the
time at once for any decision (its SlotHoldReleased, written by the timers, only tidies up).

The UTC day here only partitions the lock (it keeps each stream small); it is never a day shown
to anyone, which is the tenant's (backend/tenancy/zone.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.events import DomainEvent
from backend.scheduling.events import (
    PatientTimeFreed,
    PatientTimeHeld,
    SlotHeld,
    SlotHoldReleased,
    SlotReleased,
    SlotReserved,
)


@dataclass(frozen=True)
class DaySchedule:
    slots: dict[UUID, tuple[dt.datetime, dt.datetime]] = field(default_factory=dict)
    holds: dict[UUID, tuple[dt.datetime, dt.datetime, dt.datetime]] = field(default_factory=dict)
    """Per hold: start, end, expiry."""

    def overlapping(self, start: dt.datetime, end: dt.datetime) -> UUID | None:
        return next(iter(self.all_overlapping(start, end)), None)

    def all_overlapping(self, start: dt.datetime, end: dt.datetime) -> list[UUID]:
        return [a for a, (s, e) in self.slots.items() if s < end and start < e]

    def held(
        self, start: dt.datetime, end: dt.datetime, now: dt.datetime, ignoring: UUID | None = None
    ) -> UUID | None:
        """A hold still running at `now` on part of the time (other than `ignoring`)."""
        return next(
            (
                h
                for h, (s, e, expires) in self.holds.items()
                if s < end and start < e and now < expires and h != ignoring
            ),
            None,
        )


def evolve(state: DaySchedule, event: DomainEvent) -> DaySchedule:
    match event:
        case SlotReserved():
            slots = {**state.slots, event.appointment_id: (event.start, event.end)}
            return dataclasses.replace(state, slots=slots)
        case SlotReleased():
            slots = {a: s for a, s in state.slots.items() if a != event.appointment_id}
            return dataclasses.replace(state, slots=slots)
        case SlotHeld():
            holds = {**state.holds, event.hold_id: (event.start, event.end, event.expires_at)}
            return dataclasses.replace(state, holds=holds)
        case SlotHoldReleased():
            holds = {h: s for h, s in state.holds.items() if h != event.hold_id}
            return dataclasses.replace(state, holds=holds)
    return state


def evolve_patient(state: DaySchedule, event: DomainEvent) -> DaySchedule:
    if isinstance(event, PatientTimeHeld):
        return DaySchedule({**state.slots, event.appointment_id: (event.start, event.end)})
    if isinstance(event, PatientTimeFreed):
        return DaySchedule({a: s for a, s in state.slots.items() if a != event.appointment_id})
    return state


def view(state: DaySchedule) -> dict[str, Any]:
    return {
        "slots": [
            {"appointment_id": a, "start": s, "end": e}
            for a, (s, e) in sorted(state.slots.items(), key=lambda kv: kv[1])
        ],
        "holds": [
            {"hold_id": h, "start": s, "end": e, "expires_at": x}
            for h, (s, e, x) in sorted(state.holds.items(), key=lambda kv: kv[1])
        ],
    }


def day_stream_id(practitioner_id: UUID, day: dt.date) -> UUID:
    return uuid5(NAMESPACE_URL, f"caretrail:schedule:{practitioner_id}:{day.isoformat()}")


def patient_day_stream_id(patient_id: UUID, day: dt.date) -> UUID:
    return uuid5(NAMESPACE_URL, f"caretrail:patient-schedule:{patient_id}:{day.isoformat()}")


def days_touched(start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    first = start.astimezone(dt.UTC).date()
    last = (end - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date()
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


SCHEDULE = register_aggregate(Aggregate("schedule", DaySchedule, evolve, view, snapshot_version=2))
PATIENT_SCHEDULE = register_aggregate(
    Aggregate("patient_schedule", DaySchedule, evolve_patient, view, snapshot_version=2)
)
