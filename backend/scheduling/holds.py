"""A hold on a practitioner's time while a patient decides (pure): placed for the tenant's
`hold_minutes`, then confirmed into an appointment or expired.

A hold takes the time on the practitioner's day schedule streams like a booking (SlotHeld),
so holds and bookings of the same time conflict there: of many concurrent holds on one slot
exactly one commits. Its expiry is an event (SlotHoldExpired, with SlotHoldReleased on the day
streams) written by the scheduling timers (timers.py) from the holds read model, which outlives
any process; decisions already treat a hold past its expiry as gone, so the time is never held
longer than the policy says, however late the timers run.
"""

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
    SlotHeld,
    SlotHoldConfirmed,
    SlotHoldExpired,
    SlotHoldPlaced,
    SlotHoldReleased,
)
from backend.scheduling.model import MAX_LENGTH, require_free
from backend.scheduling.schedule import DaySchedule


@dataclass(frozen=True)
class SlotHold:
    id: UUID | None = None
    practitioner_id: UUID | None = None
    patient_id: UUID | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    status: str = "none"
    """held, confirmed or expired."""
    appointment_id: UUID | None = None


@dataclass(frozen=True)
class NewHold:
    hold_id: UUID
    practitioner_id: UUID
    patient_id: UUID | None
    start: dt.datetime
    end: dt.datetime


def evolve(state: SlotHold, event: DomainEvent) -> SlotHold:
    match event:
        case SlotHoldPlaced():
            return SlotHold(
                event.hold_id,
                event.practitioner_id,
                event.patient_id,
                event.start,
                event.end,
                event.expires_at,
                "held",
            )
        case SlotHoldConfirmed():
            return dataclasses.replace(
                state, status="confirmed", appointment_id=event.appointment_id
            )
        case SlotHoldExpired():
            return dataclasses.replace(state, status="expired")
    return state


def view(state: SlotHold) -> dict[str, Any]:
    return dataclasses.asdict(state)


def place(
    hold: NewHold, now: dt.datetime, lasts: dt.timedelta, days: dict[UUID, DaySchedule]
) -> dict[UUID, list[DomainEvent]]:
    """Per stream: the hold's own SlotHoldPlaced and a SlotHeld per day schedule it touches."""
    if hold.end <= hold.start:
        raise Invalid("end", "must be after start")
    if hold.end - hold.start > MAX_LENGTH:
        raise Invalid("end", "an appointment lasts at most 24 hours")
    if hold.start < now:
        raise Conflict("APPOINTMENT_IN_PAST", "a hold is for a time still to come")
    require_free(days, hold.start, hold.end, now)
    expires = now + lasts
    placed = SlotHoldPlaced(
        hold.hold_id, hold.practitioner_id, hold.patient_id, hold.start, hold.end, expires
    )
    held = SlotHeld(hold.practitioner_id, hold.hold_id, hold.start, hold.end, expires)
    return {hold.hold_id: [placed], **{day_id: [held] for day_id in days}}


def confirm(state: SlotHold, now: dt.datetime, appointment_id: UUID) -> list[DomainEvent]:
    """The hold's own event; the booking's rules are the appointment's (model.request)."""
    _exists(state)
    if state.status != "held":
        raise Conflict("HOLD_NOT_HELD", f"the hold is {state.status}")
    assert state.expires_at is not None
    if now >= state.expires_at:
        raise Conflict("HOLD_EXPIRED", "the hold ran out; hold the time again")
    return [SlotHoldConfirmed(_id(state), appointment_id)]


def release(state: SlotHold) -> SlotHoldReleased:
    assert state.practitioner_id is not None
    return SlotHoldReleased(state.practitioner_id, _id(state))


def expire(state: SlotHold, now: dt.datetime) -> list[DomainEvent]:
    """The expiry once the hold's time ran out unconfirmed; nothing otherwise (the timers may
    ask again for the same hold)."""
    if state.status != "held" or state.expires_at is None or now < state.expires_at:
        return []
    return [SlotHoldExpired(_id(state))]


def _exists(state: SlotHold) -> None:
    if state.id is None:
        raise NotFound("hold not found")


def _id(state: SlotHold) -> UUID:
    assert state.id is not None
    return state.id


SLOT_HOLD = register_aggregate(Aggregate("slot_hold", SlotHold, evolve, view))
