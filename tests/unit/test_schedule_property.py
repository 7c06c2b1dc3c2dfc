"""Property: booking through model.request against the day schedules never double-books."""

from __future__ import annotations

import datetime as dt
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.kernel.errors import Conflict
from backend.scheduling import model, schedule
from backend.scheduling.model import Appointment, Booking
from backend.scheduling.schedule import DaySchedule, day_stream_id, days_touched

DOC = uuid.UUID("60000000-0000-4000-8000-000000000006")
PATIENT = uuid.UUID("50000000-0000-4000-8000-000000000005")
BASE = dt.datetime(2026, 4, 1, 20, 0, tzinfo=dt.UTC)  # near midnight: many bookings span two days
OFFSETS = [dt.timezone(dt.timedelta(minutes=m)) for m in (0, 120, -300, 330, -570)]

bookings = st.lists(
    st.tuples(
        # On a quarter-hour grid so that touching (end == start) bookings are frequent.
        st.integers(min_value=0, max_value=36 * 4).map(lambda q: q * 15),  # start after BASE
        st.integers(min_value=1, max_value=24 * 4).map(lambda q: q * 15),  # duration, minutes
        st.sampled_from(OFFSETS),  # the offset the client wrote the times in
    ),
    min_size=1,
    max_size=25,
)


def _overlap(a: tuple[dt.datetime, dt.datetime], b: tuple[dt.datetime, dt.datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(bookings)
def test_accepted_bookings_never_overlap(
    plan: list[tuple[int, int, dt.timezone]],
) -> None:
    days: dict[uuid.UUID, DaySchedule] = {}
    accepted: dict[uuid.UUID, tuple[dt.datetime, dt.datetime]] = {}
    for i, (offset, minutes, tz) in enumerate(plan):
        start = (BASE + dt.timedelta(minutes=offset)).astimezone(tz)
        end = start + dt.timedelta(minutes=minutes)
        appointment_id = uuid.UUID(int=i + 1)
        touched = {
            day_stream_id(DOC, d): days.get(day_stream_id(DOC, d), DaySchedule())
            for d in days_touched(start, end)
        }
        try:
            booking = Booking(appointment_id, PATIENT, DOC, start, end, None)
            decided = model.request(Appointment(), booking, BASE, touched, {}, "refuse").events
        except Conflict as e:
            assert e.code == "SLOT_TAKEN"
            # Refused only for a real clash with something already accepted.
            assert any(_overlap((start, end), slot) for slot in accepted.values())
            continue
        assert set(decided) == {appointment_id, *touched}
        for day_id in touched:
            (event,) = decided[day_id]
            days[day_id] = schedule.evolve(touched[day_id], event)
        accepted[appointment_id] = (start, end)

    slots = list(accepted.items())
    for i, (a, slot_a) in enumerate(slots):
        for b, slot_b in slots[i + 1 :]:
            assert not _overlap(slot_a, slot_b), (a, slot_a, b, slot_b)
    # Every accepted booking is held on each UTC day it touches.
    for a, (start, end) in accepted.items():
        for d in days_touched(start, end):
            assert days[day_stream_id(DOC, d)].slots[a] == (start, end)
