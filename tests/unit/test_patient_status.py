"""The patient's status (pure): a recorded death, and the one check every context makes before
it books, admits or messages a patient."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest

from backend.kernel.errors import Conflict, Invalid
from backend.patients.events import PatientDied, PatientErased, PatientRegistered
from backend.patients.model import (
    PATIENT,
    Patient,
    erase,
    record_death,
    require_active,
    status_of,
)

PID = uuid.UUID("30000000-0000-4000-8000-000000000031")
ADMISSION = uuid.UUID("30000000-0000-4000-8000-000000000032")
NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


def alive() -> Patient:
    return PATIENT.fold(registered_events())


def test_a_registered_patient_is_active_and_passes_the_check() -> None:
    assert status_of(alive()) == "active"
    require_active(alive())


def test_an_unknown_patient_is_a_422_on_patient_id() -> None:
    with pytest.raises(Invalid) as e:
        require_active(Patient())
    assert e.value.field == "patient_id"


def test_a_death_makes_the_patient_deceased_for_every_context() -> None:
    died_at = NOW - dt.timedelta(days=20)  # the family told the clinic weeks later
    events = record_death(alive(), died_at, NOW, zone=dt.UTC)
    assert events == [PatientDied(PID, died_at, None)]
    state = PATIENT.fold([*registered_events(), *events])
    assert (state.deceased, state.died_at, status_of(state)) == (True, died_at, "deceased")
    with pytest.raises(Conflict) as e:
        require_active(state)
    assert (e.value.code, e.value.status) == ("PATIENT_DECEASED", 409)


def test_a_death_at_discharge_names_the_admission() -> None:
    assert record_death(alive(), NOW, NOW, ADMISSION, zone=dt.UTC) == [
        PatientDied(PID, NOW, ADMISSION)
    ]


def test_a_death_is_recorded_once() -> None:
    state = PATIENT.fold([*registered_events(), *record_death(alive(), NOW, NOW, zone=dt.UTC)])
    with pytest.raises(Conflict) as e:
        record_death(state, NOW, NOW, zone=dt.UTC)
    assert e.value.code == "PATIENT_DECEASED"


@pytest.mark.parametrize(
    ("died_at", "message"),
    [
        (NOW + dt.timedelta(minutes=1), "future"),
        (dt.datetime(1950, 2, 28, 23, 0, tzinfo=dt.UTC), "birth date"),
    ],
)
def test_a_death_in_the_future_or_before_birth_is_refused(
    died_at: dt.datetime, message: str
) -> None:
    with pytest.raises(Invalid, match=message) as e:
        record_death(alive(), died_at, NOW, zone=dt.UTC)
    assert e.value.field == "died_at"


def test_a_death_is_compared_with_the_birth_date_on_the_tenants_calendar() -> None:
    at = dt.datetime(1950, 3, 1, 3, 0, tzinfo=dt.UTC)  # the birth date in UTC
    assert record_death(alive(), at, NOW, zone=dt.UTC) == [PatientDied(PID, at, None)]
    new_york = ZoneInfo("America/New_York")  # 1950-02-28 22:00 there: the day before
    with pytest.raises(Invalid, match="birth date"):
        record_death(alive(), at, NOW, zone=new_york)


def test_an_erased_patient_is_erased_for_every_context_dead_or_alive() -> None:
    erased = PATIENT.fold([*registered_events(), PatientErased(PID, "request")])
    assert status_of(erased) == "erased"
    with pytest.raises(Conflict) as e:
        require_active(erased)
    assert e.value.code == "PATIENT_ERASED"
    with pytest.raises(Conflict) as e:
        record_death(erased, NOW, NOW, zone=dt.UTC)
    assert e.value.code == "PATIENT_ERASED"

    died = [*registered_events(), *record_death(alive(), NOW, NOW, zone=dt.UTC)]
    then_erased = PATIENT.fold([*died, *erase(PATIENT.fold(died), "request")])
    assert status_of(then_erased) == "erased"
    assert then_erased.deceased and then_erased.died_at is None  # the time was personal data


def registered_events() -> list[PatientRegistered]:
    return [
        PatientRegistered(PID, "Ann", "Lee", dt.date(1950, 3, 1), "female", None, None, {}, None)
    ]
