"""The appointment aggregate and the practitioner day schedule."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import pytest

from backend.kernel.aggregate import aggregate_for
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent
from backend.scheduling import model, schedule
from backend.scheduling.events import (
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentConfirmed,
    AppointmentMarkedNoShow,
    AppointmentRequested,
    AppointmentVisitOpened,
    PatientCheckedIn,
    PatientTimeFreed,
    PatientTimeHeld,
    SlotReleased,
    SlotReserved,
)
from backend.scheduling.model import APPOINTMENT, Appointment, Booking, CheckinWindow
from backend.scheduling.schedule import (
    PATIENT_SCHEDULE,
    SCHEDULE,
    DaySchedule,
    day_stream_id,
    days_touched,
)

APPT = uuid.UUID("40000000-0000-4000-8000-000000000004")
PATIENT = uuid.UUID("50000000-0000-4000-8000-000000000005")
DOC = uuid.UUID("60000000-0000-4000-8000-000000000006")
OTHER_DOC = uuid.UUID("70000000-0000-4000-8000-000000000007")
UTC = dt.UTC
START = dt.datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
END = dt.datetime(2026, 4, 1, 9, 30, tzinfo=UTC)
WINDOW = CheckinWindow(dt.timedelta(minutes=30), dt.timedelta(minutes=120))
MIN = dt.timedelta(minutes=1)
US = dt.timedelta(microseconds=1)


def at(hour: int, minute: int = 0, day: int = 1) -> dt.datetime:
    return dt.datetime(2026, 4, day, hour, minute, tzinfo=UTC)


def reserved(*slots: tuple[uuid.UUID, dt.datetime, dt.datetime]) -> DaySchedule:
    return SCHEDULE.fold([SlotReserved(DOC, a, s, e) for a, s, e in slots])


def appointment(status: str) -> Appointment:
    """An appointment 09:00-09:30 brought to `status` by folding its events."""
    history: list[DomainEvent] = [AppointmentRequested(APPT, PATIENT, DOC, START, END, "flu", None)]
    follow: dict[str, list[DomainEvent]] = {
        "requested": [],
        "confirmed": [AppointmentConfirmed(APPT)],
        "cancelled": [AppointmentCancelled(APPT, "moved")],
        "checked_in": [AppointmentConfirmed(APPT), PatientCheckedIn(APPT, START, None)],
        "completed": [
            AppointmentConfirmed(APPT),
            PatientCheckedIn(APPT, START, None),
            AppointmentCompleted(APPT),
        ],
        "no_show": [AppointmentConfirmed(APPT), AppointmentMarkedNoShow(APPT)],
    }
    state = APPOINTMENT.fold(history + follow[status])
    assert state.status == status
    return state


BEFORE = at(0) - dt.timedelta(days=1)
"""The booking's clock: before every start these tests book."""


def booking(start: dt.datetime, end: dt.datetime, back_charting: str | None = None) -> Booking:
    return Booking(APPT, PATIENT, DOC, start, end, "flu", back_charting)


def request(
    start: dt.datetime, end: dt.datetime, days: dict[uuid.UUID, DaySchedule] | None = None
) -> dict[uuid.UUID, list[DomainEvent]]:
    if days is None:
        days = {day_stream_id(DOC, d): DaySchedule() for d in days_touched(start, end)}
    return model.request(Appointment(), booking(start, end), BEFORE, days, {}, "refuse").events


# --- request ------------------------------------------------------------------------------------


def test_request_emits_requested_and_one_reservation_per_day_stream() -> None:
    d1, d2 = uuid.uuid4(), uuid.uuid4()
    decided = request(at(23, 30), at(0, 30, day=2), {d1: DaySchedule(), d2: DaySchedule()})
    assert decided == {
        APPT: [AppointmentRequested(APPT, PATIENT, DOC, at(23, 30), at(0, 30, day=2), "flu", None)],
        d1: [SlotReserved(DOC, APPT, at(23, 30), at(0, 30, day=2))],
        d2: [SlotReserved(DOC, APPT, at(23, 30), at(0, 30, day=2))],
    }


def test_request_with_a_single_day_stream() -> None:
    day = day_stream_id(DOC, START.date())
    decided = request(START, END)
    assert set(decided) == {APPT, day}
    assert decided[day] == [SlotReserved(DOC, APPT, START, END)]


def test_request_refuses_an_existing_appointment() -> None:
    with pytest.raises(Conflict) as err:
        model.request(appointment("requested"), booking(START, END), BEFORE, {}, {}, "refuse")
    assert err.value.code == "APPOINTMENT_EXISTS"


@pytest.mark.parametrize("end", [START, START - MIN])
def test_request_refuses_end_not_after_start(end: dt.datetime) -> None:
    with pytest.raises(Invalid) as err:
        request(START, end, {})
    assert err.value.field == "end"


def test_request_allows_exactly_24_hours_but_not_more() -> None:
    assert APPT in request(START, START + dt.timedelta(hours=24))
    with pytest.raises(Invalid) as err:
        request(START, START + dt.timedelta(hours=24) + US)
    assert err.value.field == "end"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (at(9, 0), at(9, 30)),  # identical
        (at(8, 45), at(9, 15)),  # overlaps the beginning
        (at(9, 15), at(9, 45)),  # overlaps the end
        (at(9, 10), at(9, 20)),  # inside
        (at(8, 0), at(10, 0)),  # around
        (at(9, 29), at(10, 0)),  # one minute of overlap
    ],
)
def test_request_refuses_overlap_with_slot_taken(start: dt.datetime, end: dt.datetime) -> None:
    other = uuid.uuid4()
    days = {day_stream_id(DOC, START.date()): reserved((other, at(9), at(9, 30)))}
    with pytest.raises(Conflict) as err:
        request(start, end, days)
    assert err.value.code == "SLOT_TAKEN"
    assert str(other) in err.value.detail


def test_request_refuses_overlap_found_in_any_day_schedule() -> None:
    other = uuid.uuid4()
    days = {
        uuid.uuid4(): DaySchedule(),
        uuid.uuid4(): reserved((other, at(0, 0, day=2), at(0, 15, day=2))),
    }
    with pytest.raises(Conflict) as err:
        request(at(23, 30), at(0, 30, day=2), days)
    assert err.value.code == "SLOT_TAKEN"


@pytest.mark.parametrize(
    ("start", "end"), [(at(8, 30), at(9, 0)), (at(9, 30), at(10, 0)), (at(8), at(8, 59))]
)
def test_request_allows_adjacent_slots(start: dt.datetime, end: dt.datetime) -> None:
    days = {day_stream_id(DOC, START.date()): reserved((uuid.uuid4(), at(9), at(9, 30)))}
    assert APPT in request(start, end, days)


def test_overlap_is_by_instant_across_offsets() -> None:
    plus2 = dt.timezone(dt.timedelta(hours=2))
    days = {uuid.uuid4(): reserved((uuid.uuid4(), at(9), at(9, 30)))}
    with pytest.raises(Conflict):
        request(dt.datetime(2026, 4, 1, 11, 15, tzinfo=plus2), at(10), days)
    assert APPT in request(dt.datetime(2026, 4, 1, 11, 30, tzinfo=plus2), at(10), days)


# --- past starts and the patient in two places ---------------------------------------------


def test_a_start_already_past_is_refused_without_a_back_charting_reason() -> None:
    for reason in (None, "  "):
        with pytest.raises(Conflict) as err:
            model.request(Appointment(), booking(START, END, reason), START + MIN, {}, {}, "refuse")
        assert err.value.code == "APPOINTMENT_IN_PAST"


def test_staff_back_chart_a_past_start_with_the_reason_recorded() -> None:
    booked = model.request(
        Appointment(), booking(START, END, " seen at 9, booked late "), END, {}, {}, "refuse"
    )
    (requested,) = booked.events[APPT]
    assert isinstance(requested, AppointmentRequested)
    assert requested.back_charting_reason == "seen at 9, booked late"
    assert APPOINTMENT.fold([requested]).back_charting_reason == "seen at 9, booked late"


def test_a_start_still_to_come_records_no_back_charting_reason() -> None:
    booked = model.request(Appointment(), booking(START, END, "why"), START, {}, {}, "refuse")
    (requested,) = booked.events[APPT]
    assert isinstance(requested, AppointmentRequested)
    assert requested.back_charting_reason is None


def held(*slots: tuple[uuid.UUID, dt.datetime, dt.datetime]) -> DaySchedule:
    return PATIENT_SCHEDULE.fold([PatientTimeHeld(PATIENT, a, s, e) for a, s, e in slots])


def test_a_patient_booked_elsewhere_then_is_refused_by_default() -> None:
    other = uuid.uuid4()
    patient_days = {uuid.uuid4(): held((other, at(9, 15), at(9, 45)))}
    with pytest.raises(Conflict) as err:
        model.request(Appointment(), booking(START, END), BEFORE, {}, patient_days, "refuse")
    assert err.value.code == "PATIENT_DOUBLE_BOOKED"
    assert str(other) in err.value.detail


def test_a_warn_policy_books_the_patient_twice_with_a_warning() -> None:
    other, day = uuid.uuid4(), uuid.uuid4()
    patient_days = {day: held((other, at(9, 15), at(9, 45)))}
    booked = model.request(Appointment(), booking(START, END), BEFORE, {}, patient_days, "warn")
    assert booked.events[day] == [PatientTimeHeld(PATIENT, APPT, START, END)]
    (warning,) = booked.warnings
    assert warning["rule"] == "patient_double_booked" and str(other) in warning["message"]


def test_adjacent_appointments_of_a_patient_are_no_double_booking() -> None:
    day = uuid.uuid4()
    patient_days = {day: held((uuid.uuid4(), at(9, 30), at(10)))}
    booked = model.request(Appointment(), booking(START, END), BEFORE, {}, patient_days, "refuse")
    assert booked.warnings == []
    assert booked.events[day] == [PatientTimeHeld(PATIENT, APPT, START, END)]


def test_the_patients_time_is_freed_only_where_it_was_held() -> None:
    state = appointment("cancelled")
    assert model.free_patient(state, held((APPT, START, END))) == [PatientTimeFreed(PATIENT, APPT)]
    assert model.free_patient(state, DaySchedule()) == []  # booked before patient schedules


# --- status transitions -------------------------------------------------------------------------

ALL = ["requested", "confirmed", "cancelled", "checked_in", "completed", "no_show"]


def test_evolve_tracks_the_lifecycle() -> None:
    state = APPOINTMENT.fold([AppointmentRequested(APPT, PATIENT, DOC, START, END, "flu", None)])
    assert state == Appointment(APPT, PATIENT, DOC, START, END, "flu", "requested")
    state = model.evolve(state, AppointmentConfirmed(APPT))
    assert state.status == "confirmed"
    state = model.evolve(state, PatientCheckedIn(APPT, at(8, 45), "late bus"))
    assert (state.status, state.checked_in_at, state.checkin_override_reason) == (
        "checked_in",
        at(8, 45),
        "late bus",
    )
    state = model.evolve(state, AppointmentCompleted(APPT))
    assert state.status == "completed"
    cancelled = model.evolve(appointment("requested"), AppointmentCancelled(APPT, "ill"))
    assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "ill")
    assert model.evolve(state, SlotReleased(DOC, APPT)) is state
    assert model.view(state)["status"] == "completed"


@pytest.mark.parametrize(
    "decide",
    [
        model.confirm,
        lambda s: model.cancel(s, "x"),
        lambda s: model.check_in(s, START, WINDOW, None, True),
        model.complete,
        lambda s: model.mark_no_show(s, END),
    ],
    ids=["confirm", "cancel", "check_in", "complete", "mark_no_show"],
)
def test_commands_on_a_missing_appointment_are_not_found(
    decide: Callable[[Appointment], list[DomainEvent]],
) -> None:
    with pytest.raises(NotFound):
        decide(Appointment())


def test_confirm_a_requested_appointment() -> None:
    assert model.confirm(appointment("requested")) == [AppointmentConfirmed(APPT)]


@pytest.mark.parametrize("status", [s for s in ALL if s != "requested"])
def test_confirm_from_other_statuses_is_an_invalid_transition(status: str) -> None:
    with pytest.raises(Conflict) as err:
        model.confirm(appointment(status))
    assert err.value.code == "INVALID_STATUS_TRANSITION"


@pytest.mark.parametrize("status", ["requested", "confirmed"])
def test_cancel_requested_or_confirmed(status: str) -> None:
    assert model.cancel(appointment(status), "  patient ill ") == [
        AppointmentCancelled(APPT, "patient ill")
    ]


@pytest.mark.parametrize("status", ["cancelled", "checked_in", "completed", "no_show"])
def test_cancel_from_other_statuses_is_an_invalid_transition(status: str) -> None:
    with pytest.raises(Conflict) as err:
        model.cancel(appointment(status), "x")
    assert err.value.code == "INVALID_STATUS_TRANSITION"


def test_cancel_needs_a_reason() -> None:
    with pytest.raises(Invalid) as err:
        model.cancel(appointment("confirmed"), "  ")
    assert err.value.field == "reason"


@pytest.mark.parametrize("status", ["confirmed", "checked_in"])
def test_an_appointment_whose_visit_was_opened_is_neither_cancelled_nor_missed(
    status: str,
) -> None:
    visit = uuid.uuid4()
    [event] = model.note_visit(appointment(status), visit)
    assert event == AppointmentVisitOpened(APPT, visit)
    seen = APPOINTMENT.evolve(appointment(status), event)
    assert (seen.visit_id, seen.status) == (visit, status)
    for command in (lambda: model.cancel(seen, "moved"), lambda: model.mark_no_show(seen, END)):
        with pytest.raises(Conflict) as err:
            command()
        assert err.value.code == "APPOINTMENT_HAS_VISIT"
    assert model.complete(APPOINTMENT.evolve(appointment("checked_in"), event))


def test_complete_a_checked_in_appointment() -> None:
    assert model.complete(appointment("checked_in")) == [AppointmentCompleted(APPT)]


@pytest.mark.parametrize("status", [s for s in ALL if s != "checked_in"])
def test_complete_from_other_statuses_is_an_invalid_transition(status: str) -> None:
    with pytest.raises(Conflict) as err:
        model.complete(appointment(status))
    assert err.value.code == "INVALID_STATUS_TRANSITION"


@pytest.mark.parametrize("status", ["requested", "confirmed"])
def test_mark_no_show_at_or_after_start(status: str) -> None:
    assert model.mark_no_show(appointment(status), START) == [AppointmentMarkedNoShow(APPT)]
    assert model.mark_no_show(appointment(status), END + MIN) == [AppointmentMarkedNoShow(APPT)]


def test_mark_no_show_before_start_is_refused() -> None:
    with pytest.raises(Conflict) as err:
        model.mark_no_show(appointment("confirmed"), START - US)
    assert err.value.code == "APPOINTMENT_NOT_STARTED"


@pytest.mark.parametrize("status", ["cancelled", "checked_in", "completed", "no_show"])
def test_mark_no_show_from_other_statuses_is_an_invalid_transition(status: str) -> None:
    with pytest.raises(Conflict) as err:
        model.mark_no_show(appointment(status), END)
    assert err.value.code == "INVALID_STATUS_TRANSITION"


def test_release_frees_the_slot_on_the_day_schedule() -> None:
    released = model.release(appointment("cancelled"))
    assert released == SlotReleased(DOC, APPT)
    day = reserved((APPT, START, END))
    assert schedule.evolve(day, released).slots == {}


# --- check-in -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "now",
    [START - dt.timedelta(minutes=30), START, START + dt.timedelta(minutes=120)],
    ids=["opens", "start", "closes"],
)
def test_check_in_inside_the_window_including_its_edges(now: dt.datetime) -> None:
    assert model.check_in(appointment("confirmed"), now, WINDOW, None, False) == [
        PatientCheckedIn(APPT, now, None)
    ]


@pytest.mark.parametrize(
    "now",
    [START - dt.timedelta(minutes=30) - US, START + dt.timedelta(minutes=120) + US],
    ids=["too-early", "too-late"],
)
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_check_in_outside_the_window_without_reason_is_refused(
    now: dt.datetime, reason: str | None
) -> None:
    with pytest.raises(Conflict) as err:
        model.check_in(appointment("confirmed"), now, WINDOW, reason, True)
    assert err.value.code == "OUTSIDE_CHECKIN_WINDOW"


def test_check_in_outside_the_window_by_staff_with_reason_records_it() -> None:
    now = START - dt.timedelta(hours=3)
    events = model.check_in(appointment("confirmed"), now, WINDOW, "  early transport ", True)
    assert events == [PatientCheckedIn(APPT, now, "early transport")]
    state = model.evolve(appointment("confirmed"), events[0])
    assert state.checkin_override_reason == "early transport"


def test_check_in_outside_the_window_with_reason_but_no_override_right_is_refused() -> None:
    with pytest.raises(Conflict) as err:
        model.check_in(appointment("confirmed"), START + dt.timedelta(hours=5), WINDOW, "x", False)
    assert err.value.code == "OUTSIDE_CHECKIN_WINDOW"


def test_check_in_inside_the_window_drops_an_unneeded_override_reason() -> None:
    events = model.check_in(appointment("confirmed"), START, WINDOW, "just in case", True)
    assert events == [PatientCheckedIn(APPT, START, None)]


def test_check_in_uses_the_given_window() -> None:
    narrow = CheckinWindow(dt.timedelta(minutes=5), dt.timedelta(minutes=10))
    with pytest.raises(Conflict):
        model.check_in(
            appointment("confirmed"), START - dt.timedelta(minutes=6), narrow, None, True
        )
    assert model.check_in(
        appointment("confirmed"), START - dt.timedelta(minutes=5), narrow, None, True
    )


def test_check_in_twice_is_already_checked_in() -> None:
    with pytest.raises(Conflict) as err:
        model.check_in(appointment("checked_in"), START, WINDOW, None, True)
    assert err.value.code == "ALREADY_CHECKED_IN"


@pytest.mark.parametrize("status", ["requested", "cancelled", "completed", "no_show"])
def test_check_in_needs_a_confirmed_appointment(status: str) -> None:
    with pytest.raises(Conflict) as err:
        model.check_in(appointment(status), START, WINDOW, None, True)
    assert err.value.code == "APPOINTMENT_NOT_CONFIRMED"


# --- day schedule -------------------------------------------------------------------------------


def test_days_touched_within_one_day() -> None:
    assert days_touched(at(9), at(10)) == [dt.date(2026, 4, 1)]
    assert days_touched(at(0), at(0, 1)) == [dt.date(2026, 4, 1)]


def test_days_touched_across_midnight_utc() -> None:
    assert days_touched(at(23, 30), at(0, 30, day=2)) == [dt.date(2026, 4, 1), dt.date(2026, 4, 2)]


def test_days_touched_ending_exactly_at_midnight_is_one_day() -> None:
    assert days_touched(at(23), at(0, 0, day=2)) == [dt.date(2026, 4, 1)]
    assert days_touched(at(0), at(0, 0, day=2)) == [dt.date(2026, 4, 1)]


def test_days_touched_starting_exactly_at_midnight() -> None:
    assert days_touched(at(0, 0, day=2), at(1, 0, day=2)) == [dt.date(2026, 4, 2)]
    assert days_touched(at(23, 59), at(0, 0, day=2) + US) == [
        dt.date(2026, 4, 1),
        dt.date(2026, 4, 2),
    ]


def test_days_touched_uses_utc_days_for_other_offsets() -> None:
    plus2 = dt.timezone(dt.timedelta(hours=2))
    minus5 = dt.timezone(dt.timedelta(hours=-5))
    # 01:00-01:30 local at +02:00 is 23:00-23:30 UTC the day before.
    assert days_touched(
        dt.datetime(2026, 4, 2, 1, 0, tzinfo=plus2), dt.datetime(2026, 4, 2, 1, 30, tzinfo=plus2)
    ) == [dt.date(2026, 4, 1)]
    # 18:30-20:00 at -05:00 is 23:30-01:00 UTC: two UTC days though one local day.
    assert days_touched(
        dt.datetime(2026, 4, 1, 18, 30, tzinfo=minus5), dt.datetime(2026, 4, 1, 20, tzinfo=minus5)
    ) == [dt.date(2026, 4, 1), dt.date(2026, 4, 2)]
    # Mixed offsets: 23:00 UTC to 00:30 UTC touches two days ...
    assert days_touched(
        dt.datetime(2026, 4, 2, 1, 0, tzinfo=plus2),
        dt.datetime(2026, 4, 1, 19, 30, tzinfo=minus5),
    ) == [dt.date(2026, 4, 1), dt.date(2026, 4, 2)]
    # ... while ending at 19:00 -05:00, which is midnight UTC, touches one.
    assert days_touched(
        dt.datetime(2026, 4, 2, 1, 0, tzinfo=plus2), dt.datetime(2026, 4, 1, 19, tzinfo=minus5)
    ) == [dt.date(2026, 4, 1)]


def test_days_touched_for_a_full_24_hours_off_midnight_is_two_days() -> None:
    assert days_touched(at(12), at(12, day=2)) == [dt.date(2026, 4, 1), dt.date(2026, 4, 2)]


def test_day_stream_id_is_deterministic_and_distinct() -> None:
    d1, d2 = dt.date(2026, 4, 1), dt.date(2026, 4, 2)
    assert day_stream_id(DOC, d1) == day_stream_id(DOC, dt.date(2026, 4, 1))
    ids = {day_stream_id(p, d) for p in (DOC, OTHER_DOC) for d in (d1, d2)}
    assert len(ids) == 4
    assert day_stream_id(DOC, d1) not in {DOC, OTHER_DOC}
    assert day_stream_id(DOC, d1).version == 5


def test_day_schedule_reserve_and_release() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    day = schedule.evolve(DaySchedule(), SlotReserved(DOC, a, at(9), at(10)))
    day2 = schedule.evolve(day, SlotReserved(DOC, b, at(11), at(12)))
    assert day2.slots == {a: (at(9), at(10)), b: (at(11), at(12))}
    assert day.slots == {a: (at(9), at(10))}  # evolve does not mutate the previous state
    day3 = schedule.evolve(day2, SlotReleased(DOC, a))
    assert day3.slots == {b: (at(11), at(12))}
    assert schedule.evolve(day3, SlotReleased(DOC, uuid.uuid4())).slots == day3.slots
    assert schedule.evolve(day3, AppointmentConfirmed(b)) is day3


def test_day_schedule_overlapping() -> None:
    a = uuid.uuid4()
    day = reserved((a, at(9), at(10)))
    assert DaySchedule().overlapping(at(9), at(10)) is None
    assert day.overlapping(at(9, 59), at(11)) == a
    assert day.overlapping(at(8), at(9, 1)) == a
    assert day.overlapping(at(8), at(9)) is None
    assert day.overlapping(at(10), at(11)) is None
    after_release = schedule.evolve(day, SlotReleased(DOC, a))
    assert after_release.overlapping(at(9), at(10)) is None


def test_a_released_slot_can_be_booked_again() -> None:
    day_id = day_stream_id(DOC, START.date())
    day = reserved((uuid.uuid4(), START, END))
    with pytest.raises(Conflict):
        request(START, END, {day_id: day})
    (other,) = day.slots
    day = schedule.evolve(day, SlotReleased(DOC, other))
    assert request(START, END, {day_id: day})[day_id] == [SlotReserved(DOC, APPT, START, END)]


def test_schedule_view_lists_slots_in_time_order() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    day = reserved((a, at(11), at(12)), (b, at(9), at(10)))
    assert schedule.view(day) == {
        "slots": [
            {"appointment_id": b, "start": at(9), "end": at(10)},
            {"appointment_id": a, "start": at(11), "end": at(12)},
        ],
        "holds": [],
    }


def test_scheduling_aggregates_are_registered() -> None:
    assert aggregate_for("appointment") is APPOINTMENT
    assert aggregate_for("schedule") is SCHEDULE
