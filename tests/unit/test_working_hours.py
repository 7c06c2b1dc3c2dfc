"""Working hours turned into instants (backend/scheduling/hours.py): wall-clock periods in the
tenant's zone, across daylight-saving changes, less time off, cut into free slots."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest

from backend.kernel.errors import Conflict, Invalid
from backend.scheduling import hours
from backend.scheduling.events import BookedOutsideWorkingHours

NY = ZoneInfo("America/New_York")
P = uuid.UUID(int=7)
A = uuid.UUID(int=8)


def template(*periods: tuple[str, str, str], slot: int = 60) -> hours.WorkingHours:
    weekly = [hours.period(i, *p) for i, p in enumerate(periods)]
    state = hours.WorkingHours()
    for event in hours.set_hours(P, weekly, slot):
        state = hours.evolve(state, event)
    return state


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_nine_o_clock_stays_nine_o_clock_across_the_autumn_change() -> None:
    """2026-11-01 (a Sunday) New York falls back: 09:00 is 13:00 UTC before, 14:00 after."""
    state = template(("fri", "09:00", "12:00"), ("mon", "09:00", "12:00"))
    found = hours.working_intervals(state, NY, dt.date(2026, 10, 30), dt.date(2026, 11, 2))
    assert found == [
        (utc(2026, 10, 30, 13), utc(2026, 10, 30, 16)),
        (utc(2026, 11, 2, 14), utc(2026, 11, 2, 17)),
    ]


def test_a_period_across_the_autumn_change_has_its_extra_hour_of_slots() -> None:
    """00:00-04:00 on 2026-11-01 lasts five real hours (01:00-02:00 comes twice): five slots."""
    state = template(("sun", "00:00", "04:00"))
    day = dt.date(2026, 11, 1)
    slots = hours.free_slots(state, NY, day, day, [], utc(2026, 1, 1))
    assert [s for s, _ in slots] == [utc(2026, 11, 1, h) for h in range(4, 9)]


def test_a_period_across_the_spring_change_loses_an_hour() -> None:
    """2027-03-14 New York springs forward at 02:00: 00:00-04:00 is three real hours."""
    state = template(("sun", "00:00", "04:00"))
    day = dt.date(2027, 3, 14)
    slots = hours.free_slots(state, NY, day, day, [], utc(2027, 1, 1))
    assert [s for s, _ in slots] == [utc(2027, 3, 14, 5), utc(2027, 3, 14, 6), utc(2027, 3, 14, 7)]
    assert hours.within(state, NY, utc(2027, 3, 14, 7), utc(2027, 3, 14, 8))
    assert not hours.within(state, NY, utc(2027, 3, 14, 8), utc(2027, 3, 14, 9))


def test_time_off_cuts_hours_or_whole_days_and_busy_time_takes_slots() -> None:
    state = template(("tue", "09:00", "12:00"), ("tue", "13:00", "17:00"), slot=60)
    tuesday, next_tuesday = dt.date(2026, 6, 2), dt.date(2026, 6, 9)
    for event in [
        *hours.add_time_off(P, A, hours.TimeOff(tuesday, tuesday, "10:00", "14:00", "dentist")),
        *hours.add_time_off(P, P, hours.TimeOff(next_tuesday, next_tuesday, None, None, None)),
    ]:
        state = hours.evolve(state, event)
    zone = ZoneInfo("Europe/Berlin")  # UTC+2 in June
    busy = [(utc(2026, 6, 2, 12, 30), utc(2026, 6, 2, 13, 30))]  # 14:30-15:30 local
    slots = hours.free_slots(state, zone, tuesday, next_tuesday, busy, utc(2026, 1, 1))
    # 09:00 before the time off; of 14:00, 15:00 and 16:00 after it, only 16:00 is not busy
    assert [s for s, _ in slots] == [utc(2026, 6, 2, 7), utc(2026, 6, 2, 14)]


def test_a_booking_outside_the_hours_needs_a_reason_and_records_it() -> None:
    state = template(("wed", "09:00", "12:00"))
    start = utc(2026, 6, 3, 11, 30)  # 07:30 New York
    with pytest.raises(Conflict) as refused:
        hours.check_booking(state, NY, A, start, start + dt.timedelta(minutes=30), " ")
    assert refused.value.code == hours.OUTSIDE_WORKING_HOURS
    recorded = hours.check_booking(state, NY, A, start, start + dt.timedelta(minutes=30), "urgent")
    assert recorded == [BookedOutsideWorkingHours(A, "urgent")]
    inside = utc(2026, 6, 3, 13)
    assert hours.check_booking(state, NY, A, inside, inside + dt.timedelta(hours=3), None) == []
    assert hours.check_booking(hours.WorkingHours(), NY, A, start, start, None) == []


def test_overlapping_or_backwards_periods_are_refused() -> None:
    with pytest.raises(Invalid):
        hours.set_hours(
            P,
            [hours.period(0, "mon", "09:00", "12:00"), hours.period(1, "mon", "11:00", "13:00")],
            30,
        )
    with pytest.raises(Invalid):
        hours.set_hours(P, [hours.period(0, "mon", "12:00", "09:00")], 30)
    with pytest.raises(Invalid):
        hours.period(0, "monday", "09:00", "12:00")
    with pytest.raises(Invalid):
        hours.set_hours(P, [], 3)
