"""The waitlist of one practitioner (pure): patients waiting for a slot with them on a range of
days (in the tenant's time zone), in the order they joined, and the slots freed for them.

A freed slot (an appointment cancelled or missed, a hold that ran out unconfirmed) is offered to
the first patient in line whose days include it and who has not been offered it yet, for an
acceptance window (the tenant's `waitlist_offer_minutes`). An offer accepted books the slot (the
booking's own rules apply); an offer that runs out (a durable expiry, by the scheduling timers:
timers.py) or whose patient leaves the list passes the slot to the next in line. One stream per
practitioner: offers and acceptances of one list are decided in order.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent, register

WAITING = frozenset({"waiting", "offered"})
MAX_DAYS = 366


@register
@dataclass(frozen=True)
class WaitlistJoined(DomainEvent):
    entry_id: UUID
    patient_id: UUID
    practitioner_id: UUID
    from_date: dt.date
    to_date: dt.date


@register
@dataclass(frozen=True)
class WaitlistLeft(DomainEvent):
    entry_id: UUID


@register
@dataclass(frozen=True)
class WaitlistSlotOffered(DomainEvent):
    """The slot `freed_by` left free is offered to the entry's patient until `expires_at`;
    `day` is the slot's day in the tenant's time zone (the one entries are matched on)."""

    offer_id: UUID
    entry_id: UUID
    patient_id: UUID
    practitioner_id: UUID
    start: dt.datetime
    end: dt.datetime
    freed_by: UUID
    day: dt.date
    expires_at: dt.datetime


@register
@dataclass(frozen=True)
class WaitlistOfferExpired(DomainEvent):
    offer_id: UUID


@register
@dataclass(frozen=True)
class WaitlistOfferAccepted(DomainEvent):
    offer_id: UUID
    appointment_id: UUID


@dataclass(frozen=True)
class Entry:
    id: UUID
    patient_id: UUID
    from_date: dt.date
    to_date: dt.date
    status: str = "waiting"
    """waiting, offered (an offer is open), booked (an offer was accepted), left."""


@dataclass(frozen=True)
class Offer:
    id: UUID
    entry_id: UUID
    patient_id: UUID
    start: dt.datetime
    end: dt.datetime
    freed_by: UUID
    expires_at: dt.datetime
    status: str = "open"
    """open, accepted, expired, withdrawn (its patient left the list)."""
    appointment_id: UUID | None = None


@dataclass(frozen=True)
class Slot:
    """A freed slot: its time, what freed it (the appointment cancelled or missed, the hold that
    ran out) and its day in the tenant's zone."""

    start: dt.datetime
    end: dt.datetime
    freed_by: UUID
    day: dt.date


@dataclass(frozen=True)
class Waitlist:
    practitioner_id: UUID | None = None
    entries: tuple[Entry, ...] = ()
    offers: dict[UUID, Offer] = field(default_factory=dict)
    days: dict[UUID, dt.date] = field(default_factory=dict)
    """The local day of each freed slot offered (to pass it on)."""


def evolve(state: Waitlist, event: DomainEvent) -> Waitlist:
    match event:
        case WaitlistJoined():
            entry = Entry(event.entry_id, event.patient_id, event.from_date, event.to_date)
            return dataclasses.replace(
                state, practitioner_id=event.practitioner_id, entries=(*state.entries, entry)
            )
        case WaitlistLeft():
            state = _with_entry(state, event.entry_id, "left")
            return _with_offers(state, lambda o: o.entry_id == event.entry_id, "withdrawn")
        case WaitlistSlotOffered():
            offer = Offer(
                event.offer_id,
                event.entry_id,
                event.patient_id,
                event.start,
                event.end,
                event.freed_by,
                event.expires_at,
            )
            days = {**state.days, event.freed_by: event.day}
            state = dataclasses.replace(state, offers={**state.offers, offer.id: offer}, days=days)
            return _with_entry(state, event.entry_id, "offered")
        case WaitlistOfferExpired():
            offer = state.offers[event.offer_id]
            state = _with_offers(state, lambda o: o.id == event.offer_id, "expired")
            return _with_entry(state, offer.entry_id, "waiting")
        case WaitlistOfferAccepted():
            offer = dataclasses.replace(
                state.offers[event.offer_id], status="accepted", appointment_id=event.appointment_id
            )
            state = dataclasses.replace(state, offers={**state.offers, offer.id: offer})
            return _with_entry(state, offer.entry_id, "booked")
    return state


def _with_entry(state: Waitlist, entry_id: UUID, status: str) -> Waitlist:
    entries = tuple(
        dataclasses.replace(e, status=status) if e.id == entry_id else e for e in state.entries
    )
    return dataclasses.replace(state, entries=entries)


def _with_offers(state: Waitlist, which: Any, status: str) -> Waitlist:
    offers = {
        i: dataclasses.replace(o, status=status) if o.status == "open" and which(o) else o
        for i, o in state.offers.items()
    }
    return dataclasses.replace(state, offers=offers)


def view(state: Waitlist) -> dict[str, Any]:
    return {
        "practitioner_id": state.practitioner_id,
        "entries": [dataclasses.asdict(e) for e in state.entries],
        "offers": [dataclasses.asdict(o) for o in state.offers.values()],
    }


def waitlist_stream_id(practitioner_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"caretrail:waitlist:{practitioner_id}")


def offer_id_of(freed_by: UUID, entry_id: UUID) -> UUID:
    """One offer per freed slot and entry: handling a freeing twice offers nothing new."""
    return uuid5(NAMESPACE_URL, f"caretrail:waitlist-offer:{freed_by}:{entry_id}")


def join(
    state: Waitlist,
    entry_id: UUID,
    patient_id: UUID,
    practitioner_id: UUID,
    from_date: dt.date,
    to_date: dt.date,
    today: dt.date,
) -> list[DomainEvent]:
    if to_date < from_date:
        raise Invalid("to_date", "must not be before from_date")
    if to_date < today:
        raise Invalid("to_date", "the range is already past")
    if (to_date - from_date).days >= MAX_DAYS:
        raise Invalid("to_date", f"a range of at most {MAX_DAYS} days")
    if any(e.patient_id == patient_id and e.status in WAITING for e in state.entries):
        raise Conflict(
            "ALREADY_ON_WAITLIST", "the patient is already waiting for this practitioner"
        )
    return [WaitlistJoined(entry_id, patient_id, practitioner_id, from_date, to_date)]


def leave(
    state: Waitlist, entry_id: UUID, now: dt.datetime, window: dt.timedelta
) -> list[DomainEvent]:
    """Leaving with an offer open passes its slot to the next in line."""
    entry = _entry(state, entry_id)
    if entry.status not in WAITING:
        raise Conflict("WAITLIST_ENTRY_CLOSED", f"the entry is {entry.status}")
    events: list[DomainEvent] = [WaitlistLeft(entry_id)]
    open_offer = next(
        (o for o in state.offers.values() if o.entry_id == entry_id and o.status == "open"), None
    )
    if open_offer is not None:
        after = evolve(state, events[0])
        events += offer(after, _slot_of(after, open_offer), now, window)
    return events


def offer(state: Waitlist, slot: Slot, now: dt.datetime, window: dt.timedelta) -> list[DomainEvent]:
    """The slot offered to the first entry in line that wants its day and was not offered it;
    nothing if the slot has begun, is on offer already (this slot, or an open offer of time it
    overlaps: freed again by a hold placed on an offered time, it is not offered twice), or
    nobody in line wants it."""
    if slot.start <= now or state.practitioner_id is None:
        return []
    offered = {o.entry_id for o in state.offers.values() if o.freed_by == slot.freed_by}
    if any(
        (o.freed_by == slot.freed_by and o.status in ("open", "accepted"))
        or (o.status == "open" and o.start < slot.end and slot.start < o.end)
        for o in state.offers.values()
    ):
        return []
    for entry in state.entries:
        if (
            entry.status == "waiting"
            and entry.id not in offered
            and entry.from_date <= slot.day <= entry.to_date
        ):
            return [
                WaitlistSlotOffered(
                    offer_id_of(slot.freed_by, entry.id),
                    entry.id,
                    entry.patient_id,
                    state.practitioner_id,
                    slot.start,
                    slot.end,
                    slot.freed_by,
                    slot.day,
                    now + window,
                )
            ]
    return []


def expire(
    state: Waitlist, offer_id: UUID, now: dt.datetime, window: dt.timedelta
) -> list[DomainEvent]:
    """An open offer whose window has passed expires, and its slot goes to the next in line;
    nothing for an offer not open or not yet due (a stale hint of the read model)."""
    found = state.offers.get(offer_id)
    if found is None or found.status != "open" or found.expires_at > now:
        return []
    expired = WaitlistOfferExpired(offer_id)
    after = evolve(state, expired)
    return [expired, *offer(after, _slot_of(after, found), now, window)]


def accept(state: Waitlist, offer_id: UUID, appointment_id: UUID, now: dt.datetime) -> Offer:
    """The offer to book, checked: open and inside its window."""
    found = state.offers.get(offer_id)
    if found is None:
        raise NotFound(f"offer {offer_id} not found")
    if found.status == "expired" or (found.status == "open" and found.expires_at <= now):
        raise Conflict("OFFER_EXPIRED", "the acceptance window has passed; the slot went on")
    if found.status != "open":
        raise Conflict("OFFER_CLOSED", f"the offer is {found.status}")
    return found


def _slot_of(state: Waitlist, offered: Offer) -> Slot:
    return Slot(offered.start, offered.end, offered.freed_by, state.days[offered.freed_by])


def _entry(state: Waitlist, entry_id: UUID) -> Entry:
    for e in state.entries:
        if e.id == entry_id:
            return e
    raise NotFound(f"waitlist entry {entry_id} not found")


WAITLIST = register_aggregate(Aggregate("waitlist", Waitlist, evolve, view))
