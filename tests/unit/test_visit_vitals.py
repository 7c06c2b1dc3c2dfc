"""Vitals of a visit: ranges, charting time, clinical order, and readings entered in error."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from visit_states import DOC, NOW, READING, VISIT_ID, after, opened, signed

from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import revive
from backend.visits import vitals
from backend.visits.events import VitalsEnteredInError, VitalsRecorded
from backend.visits.ownership import NotVitalsAuthor
from backend.visits.state import Visit
from backend.visits.vitals import Readings, check_readings

EARLIER = NOW - dt.timedelta(hours=4)


def test_vitals_are_recorded_at_the_time_taken() -> None:
    taken = NOW - dt.timedelta(hours=3)
    readings = Readings(heart_rate=72, systolic=120, diastolic=80, temperature_c=Decimal("37.2"))
    visit = opened(EARLIER)
    [event] = vitals.record_vitals(visit, READING, taken, readings, "nurse-1")
    assert event == VitalsRecorded(
        VISIT_ID, READING, taken, "nurse-1", 72, 120, 80, Decimal("37.2"), None, None, None, None
    )
    assert after(visit, [event]).vitals == (
        {
            "reading_id": str(READING),
            "taken_at": taken.isoformat(),
            "recorded_by": "nurse-1",
            "status": "final",
            "entered_in_error": None,
            "heart_rate": 72,
            "systolic": 120,
            "diastolic": 80,
            "temperature_c": "37.2",
        },
    )


def test_a_reading_timed_before_the_visit_opened_is_refused() -> None:
    """Else a valid_at read between the two would show vitals of a visit without a patient."""
    with pytest.raises(Invalid) as e:
        vitals.record_vitals(
            opened(), READING, NOW - dt.timedelta(seconds=1), Readings(spo2=97), "n"
        )
    assert e.value.field == "occurred_at"
    assert vitals.record_vitals(opened(), READING, NOW, Readings(spo2=97), "n")


def test_readings_are_listed_in_the_order_they_were_taken() -> None:
    state = opened(EARLIER)
    charting = [(NOW, 90), (NOW - dt.timedelta(hours=2), 80), (NOW, 91), (EARLIER, 70)]
    for taken, pulse in charting:
        events = vitals.record_vitals(state, uuid.uuid4(), taken, Readings(heart_rate=pulse), "n")
        state = after(state, events)
    assert [v["heart_rate"] for v in state.vitals] == [70, 80, 90, 91]


@pytest.mark.parametrize(
    ("readings", "field"),
    [
        (Readings(), "vitals"),
        (Readings(heart_rate=19), "heart_rate"),
        (Readings(heart_rate=301), "heart_rate"),
        (Readings(systolic=49), "systolic"),
        (Readings(diastolic=201), "diastolic"),
        (Readings(temperature_c=Decimal("45.1")), "temperature_c"),
        (Readings(temperature_c=Decimal("NaN")), "temperature_c"),
        (Readings(respiratory_rate=3), "respiratory_rate"),
        (Readings(spo2=101), "spo2"),
        (Readings(weight_kg=Decimal("0")), "weight_kg"),
        (Readings(height_cm=Decimal("281")), "height_cm"),
        (Readings(systolic=80, diastolic=80), "systolic"),
        (Readings(systolic=70, diastolic=90), "systolic"),
    ],
)
def test_vitals_out_of_range_name_the_field(readings: Readings, field: str) -> None:
    with pytest.raises(Invalid) as e:
        check_readings(readings)
    assert e.value.field == field


def test_vitals_at_the_range_edges_are_accepted() -> None:
    check_readings(Readings(20, 300, 200, Decimal(25), 80, 100, Decimal("0.2"), Decimal(280)))
    check_readings(Readings(300, 51, 50, Decimal(45), 4, 50, Decimal(500), Decimal(20)))


def _charted_by_nurse() -> tuple[Visit, dt.datetime]:
    taken = NOW + dt.timedelta(minutes=10)
    state = opened()
    state = after(
        state, vitals.record_vitals(state, READING, taken, Readings(heart_rate=180), "nurse-1")
    )
    return state, taken


def test_a_reading_entered_in_error_stays_on_the_record_marked() -> None:
    state, taken = _charted_by_nurse()
    later = NOW + dt.timedelta(hours=1)
    events = vitals.enter_in_error(state, READING, " wrong patient ", "nurse-1", False, later)
    assert events == [VitalsEnteredInError(VISIT_ID, READING, "wrong patient", "nurse-1", later)]
    [reading] = after(state, events).vitals
    assert reading["heart_rate"] == 180 and reading["status"] == "entered_in_error"
    assert reading["entered_in_error"] == {
        "reason": "wrong patient",
        "marked_by": "nurse-1",
        "marked_at": later.isoformat(),
    }
    assert vitals.reading_valid_time(state, READING) == taken
    with pytest.raises(Conflict) as e:
        vitals.enter_in_error(after(state, events), READING, "again", "nurse-1", False, later)
    assert e.value.code == "ALREADY_ENTERED_IN_ERROR"


def test_who_charted_the_reading_or_the_visits_doctor_may_mark_it() -> None:
    state, _ = _charted_by_nurse()
    assert vitals.enter_in_error(state, READING, "typo", str(DOC), True, NOW)
    others = [("nurse-2", False), (str(uuid.uuid4()), True), (str(DOC), False)]
    for actor, is_doctor in others:
        with pytest.raises(NotVitalsAuthor) as e:
            vitals.enter_in_error(state, READING, "typo", actor, is_doctor, NOW)
        assert (e.value.code, e.value.status) == ("NOT_VITALS_AUTHOR", 403)


def test_marking_in_error_works_after_sign_off_and_needs_a_reason() -> None:
    state, _ = _charted_by_nurse()
    state = signed(state)
    assert vitals.enter_in_error(state, READING, "typo", "nurse-1", False, NOW)
    with pytest.raises(Invalid) as e:
        vitals.enter_in_error(state, READING, "  ", "nurse-1", False, NOW)
    assert e.value.field == "reason"
    with pytest.raises(NotFound):
        vitals.enter_in_error(state, uuid.uuid4(), "typo", "nurse-1", False, NOW)


class _StoredV1:
    """VitalsRecorded as stored before v2: no reading id, no author."""

    event_type = "VitalsRecorded"
    schema_version = 1

    def __init__(self, taken: dt.datetime) -> None:
        empty = dict.fromkeys(("systolic", "diastolic", "temperature_c", "respiratory_rate"))
        empty |= dict.fromkeys(("spo2", "weight_kg", "height_cm"))
        self.data = {
            "visit_id": str(VISIT_ID),
            "taken_at": taken.isoformat(),
            "heart_rate": 72,
            **empty,
        }


def test_a_reading_stored_before_v2_gets_a_stable_id_and_no_author() -> None:
    first, again = revive(_StoredV1(NOW)), revive(_StoredV1(NOW))
    other = revive(_StoredV1(NOW + dt.timedelta(minutes=1)))
    assert isinstance(first, VitalsRecorded) and isinstance(other, VitalsRecorded)
    assert first == again and first.reading_id != other.reading_id
    assert first.recorded_by is None and first.heart_rate == 72
