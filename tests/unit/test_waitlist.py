"""The waitlist's offers (pure): a time on offer is not offered a second time."""

from __future__ import annotations

import datetime as dt
from uuid import uuid4

from backend.scheduling import waitlist
from backend.scheduling.waitlist import Waitlist, WaitlistSlotOffered, evolve

NOW = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
START = NOW + dt.timedelta(days=1)
END = START + dt.timedelta(minutes=30)
WINDOW = dt.timedelta(minutes=30)


def two_waiting() -> Waitlist:
    state = Waitlist()
    practitioner = uuid4()
    for _ in range(2):
        joined = waitlist.join(
            state, uuid4(), uuid4(), practitioner, START.date(), START.date(), NOW.date()
        )
        state = evolve(state, joined[0])
    return state


def test_a_time_freed_again_while_on_offer_is_not_offered_to_the_next_in_line() -> None:
    """A cancelled appointment's time is on offer; a hold placed on that time (it is free)
    runs out: its time, overlapping the open offer, goes to nobody else."""
    state = two_waiting()
    [offered] = waitlist.offer(state, waitlist.Slot(START, END, uuid4(), START.date()), NOW, WINDOW)
    assert isinstance(offered, WaitlistSlotOffered)
    state = evolve(state, offered)
    again = waitlist.Slot(START + dt.timedelta(minutes=15), END, uuid4(), START.date())
    assert waitlist.offer(state, again, NOW, WINDOW) == []
    later = waitlist.Slot(END, END + dt.timedelta(minutes=30), uuid4(), START.date())
    [elsewhere] = waitlist.offer(state, later, NOW, WINDOW)
    assert isinstance(elsewhere, WaitlistSlotOffered)
    assert elsewhere.entry_id == state.entries[1].id


def test_the_same_freed_slot_is_offered_once() -> None:
    state = two_waiting()
    slot = waitlist.Slot(START, END, uuid4(), START.date())
    [offered] = waitlist.offer(state, slot, NOW, WINDOW)
    assert waitlist.offer(evolve(state, offered), slot, NOW, WINDOW) == []
