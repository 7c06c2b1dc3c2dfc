"""A practitioner's reserved slots for one UTC day: the stream that makes double booking
impossible. Booking appends to the appointment stream and to every day stream the appointment
touches in one transaction, each with its expected version, so two concurrent overlapping
bookings cannot both commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.events import DomainEvent
from backend.scheduling.events import SlotReleased, SlotReserved


@dataclass(frozen=True)
class DaySchedule:
    slots: dict[UUID, tuple[dt.datetime, dt.datetime]] = field(default_factory=dict)

    def overlapping(self, start: dt.datetime, end: dt.datetime) -> UUID | None:
        return next((a for a, (s, e) in self.slots.items() if s < end and start < e), None)


def evolve(state: DaySchedule, event: DomainEvent) -> DaySchedule:
    if isinstance(event, SlotReserved):
        return DaySchedule({**state.slots, event.appointment_id: (event.start, event.end)})
    if isinstance(event, SlotReleased):
        return DaySchedule({a: s for a, s in state.slots.items() if a != event.appointment_id})
    return state


def view(state: DaySchedule) -> dict[str, Any]:
    return {
        "slots": [
            {"appointment_id": a, "start": s, "end": e}
            for a, (s, e) in sorted(state.slots.items(), key=lambda kv: kv[1])
        ]
    }


def day_stream_id(practitioner_id: UUID, day: dt.date) -> UUID:
    return uuid5(NAMESPACE_URL, f"caretrail:schedule:{practitioner_id}:{day.isoformat()}")


def days_touched(start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    first = start.astimezone(dt.UTC).date()
    last = (end - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date()
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


SCHEDULE = register_aggregate(Aggregate("schedule", DaySchedule, evolve, view))
