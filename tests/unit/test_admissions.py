"""Admissions: wards and bed occupancy, patient stays, admit/transfer/discharge, length of stay."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from backend.admissions import model, ward_names, wards
from backend.admissions.events import (
    BedOccupied,
    BedReleased,
    BedsAdded,
    PatientAdmitted,
    PatientDischarged,
    PatientStayClosed,
    PatientStayOpened,
    PatientTransferred,
    WardDefined,
    WardNameFreed,
    WardNameTaken,
    WardRenamed,
)
from backend.admissions.model import ADMISSION, Admission, LengthOfStay, length_of_stay
from backend.admissions.stays import STAY, Stay, stay_stream_id
from backend.admissions.wards import WARD, Ward, occupancy_ratio
from backend.kernel.aggregate import aggregate_for
from backend.kernel.clinical_time import occurred_at
from backend.kernel.errors import Conflict, Invalid, NotFound

ADM = uuid.UUID("10000000-0000-4000-8000-000000000001")
OTHER_ADM = uuid.UUID("10000000-0000-4000-8000-000000000002")
PATIENT = uuid.UUID("20000000-0000-4000-8000-000000000002")
OTHER_PATIENT = uuid.UUID("20000000-0000-4000-8000-000000000003")
NORTH = uuid.UUID("30000000-0000-4000-8000-000000000003")
SOUTH = uuid.UUID("40000000-0000-4000-8000-000000000004")
T0 = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
IST = "Asia/Kolkata"
NY = "America/New_York"


def ward(ward_id: uuid.UUID = NORTH, *occupied: tuple[str, uuid.UUID]) -> Ward:
    """A ward with beds A1, A2, A3, some occupied."""
    return WARD.fold(
        [
            WardDefined(ward_id, "North" if ward_id == NORTH else "South", ("A1", "A2", "A3")),
            *(BedOccupied(ward_id, bed, adm, PATIENT) for bed, adm in occupied),
        ]
    )


def admitted(bed: str = "A1", ward_id: uuid.UUID = NORTH) -> Admission:
    return ADMISSION.fold([PatientAdmitted(ADM, PATIENT, ward_id, bed, None, "pneumonia", T0)])


def discharged() -> Admission:
    return model.evolve(admitted(), PatientDischarged(ADM, "home", None, T0 + 30 * HOUR, "UTC"))


# Wards and beds


def test_defining_a_ward_records_its_beds_trimmed() -> None:
    events = wards.define(Ward(), NORTH, " North ", [" A1", "A2 "])
    assert events == [WardDefined(NORTH, "North", ("A1", "A2"))]
    assert WARD.fold(events).beds == ("A1", "A2")


@pytest.mark.parametrize(
    ("name", "beds", "field"),
    [
        ("  ", ["A1"], "name"),
        ("North", [], "beds"),
        ("North", ["A1", " "], "beds"),
        ("North", ["A1", "A2", "A1 "], "beds"),
    ],
)
def test_a_ward_needs_a_name_and_unique_non_blank_beds(
    name: str, beds: list[str], field: str
) -> None:
    with pytest.raises(Invalid) as e:
        wards.define(Ward(), NORTH, name, beds)
    assert e.value.field == field


def test_a_ward_is_defined_once() -> None:
    with pytest.raises(Conflict) as e:
        wards.define(ward(), NORTH, "North", ["A1"])
    assert e.value.code == "WARD_EXISTS"


def test_beds_are_added_to_the_end_of_a_ward() -> None:
    events = wards.add_beds(ward(), ["B1", "B2"])
    assert events == [BedsAdded(NORTH, ("B1", "B2"))]
    assert WARD.fold([*_history(ward()), *events]).beds == ("A1", "A2", "A3", "B1", "B2")


def test_a_bed_label_is_unique_within_its_ward() -> None:
    with pytest.raises(Conflict) as e:
        wards.add_beds(ward(), ["B1", "A2"])
    assert e.value.code == "BED_EXISTS"
    with pytest.raises(Invalid):
        wards.add_beds(ward(), ["B1", "B1"])


def test_beds_cannot_be_added_to_an_unknown_ward() -> None:
    with pytest.raises(NotFound):
        wards.add_beds(Ward(), ["A1"])


def test_a_bed_holds_one_admission_until_released() -> None:
    state = ward(NORTH, ("A1", ADM))
    assert state.occupants == {"A1": ADM}
    with pytest.raises(Conflict) as e:
        state.check_free("A1")
    assert e.value.code == "BED_OCCUPIED"
    state.check_free("A2")
    released = wards.evolve(state, BedReleased(NORTH, "A1", ADM, T0))
    assert (released.occupants, released.released_at) == ({}, {"A1": T0})
    released.check_free("A1")


def test_releasing_a_bed_for_another_admission_leaves_it_occupied() -> None:
    state = wards.evolve(ward(NORTH, ("A1", ADM)), BedReleased(NORTH, "A1", OTHER_ADM, T0))
    assert (state.occupants, state.released_at) == ({"A1": ADM}, {})


def test_an_unknown_bed_is_invalid_not_a_conflict() -> None:
    with pytest.raises(Invalid) as e:
        ward().check_free("Z9")
    assert e.value.field == "bed"


@pytest.mark.parametrize(
    ("occupied", "beds", "ratio"),
    [
        (0, 3, "0.00"),
        (1, 3, "0.33"),
        (2, 3, "0.67"),
        (3, 3, "1.00"),
        (1, 8, "0.13"),
        (0, 0, "0.00"),
    ],
)
def test_occupancy_is_a_ratio_to_two_places(occupied: int, beds: int, ratio: str) -> None:
    assert occupancy_ratio(occupied, beds) == Decimal(ratio)
    assert str(occupancy_ratio(occupied, beds)) == ratio


def test_ward_view_counts_free_and_occupied_beds() -> None:
    view = wards.view(ward(NORTH, ("A2", ADM)))
    assert view["occupied"] == 1 and view["free"] == 2 and view["occupancy"] == "0.33"
    assert view["occupants"] == {"A2": ADM}


# Patient stays


def test_a_bed_out_of_service_refuses_admissions_and_transfers_until_available() -> None:
    blocked = wards.evolve(ward(), *wards.set_bed_state(ward(), " A2", "blocked", " rail "))
    assert blocked.bed_states == {"A2": "blocked"}
    assert wards.view(blocked)["free"] == 2 and wards.view(blocked)["unavailable"] == 1
    with pytest.raises(Conflict) as e:
        model.admit(Admission(), ADM, PATIENT, blocked, Stay(), "A2", None, "x", T0)
    assert e.value.code == "BED_UNAVAILABLE"
    current = ward(NORTH, ("A1", ADM))
    with pytest.raises(Conflict) as e:
        model.transfer(admitted(), current, blocked, "A2", None, T0 + HOUR)
    assert e.value.code == "BED_UNAVAILABLE"
    assert wards.set_bed_state(blocked, "A2", "blocked", None) == []
    [available] = wards.set_bed_state(blocked, "A2", "available", None)
    model.admit(
        Admission(), ADM, PATIENT, wards.evolve(blocked, available), Stay(), "A2", None, "x", T0
    )


def test_an_occupied_bed_is_not_taken_out_of_service() -> None:
    with pytest.raises(Conflict) as e:
        wards.set_bed_state(ward(NORTH, ("A1", ADM)), "A1", "cleaning", None)
    assert e.value.code == "BED_OCCUPIED"
    with pytest.raises(Invalid):
        wards.set_bed_state(ward(), "Z9", "cleaning", None)


def test_only_an_empty_ward_closes_and_a_closed_one_takes_nothing() -> None:
    with pytest.raises(Conflict) as e:
        wards.close(ward(NORTH, ("A1", ADM)))
    assert e.value.code == "WARD_NOT_EMPTY"
    closed = WARD.fold([*_history(ward()), *wards.close(ward())])
    assert wards.view(closed)["status"] == "closed"
    for command in (
        lambda: model.admit(Admission(), ADM, PATIENT, closed, Stay(), "A1", None, "x", T0),
        lambda: wards.add_beds(closed, ["B1"]),
        lambda: wards.rename(closed, "Old North"),
        lambda: wards.set_bed_state(closed, "A1", "blocked", None),
        lambda: wards.close(closed),
    ):
        with pytest.raises(Conflict) as e:
            command()
        assert e.value.code == "WARD_CLOSED"


def test_a_ward_is_renamed_trimmed_and_not_to_its_own_name() -> None:
    assert wards.rename(ward(), " North ") == []
    assert wards.rename(ward(), " East ") == [WardRenamed(NORTH, "East")]
    with pytest.raises(Invalid):
        wards.rename(ward(), "  ")


def test_a_ward_name_is_held_by_one_open_ward_whatever_its_case_and_spacing() -> None:
    names = ward_names.WARD_NAMES.fold(
        ward_names.take(ward_names.WardNames(), NORTH, "North", None)
    )
    with pytest.raises(Conflict) as e:
        ward_names.take(names, SOUTH, " north", None)
    assert e.value.code == "WARD_NAME_TAKEN"
    assert ward_names.take(names, NORTH, "NORTH", "North") == [WardNameTaken(NORTH, "NORTH")]
    renamed = ward_names.take(names, NORTH, "East", "North")
    assert renamed == [WardNameFreed(NORTH, "North"), WardNameTaken(NORTH, "East")]
    freed = ward_names.WARD_NAMES.fold(renamed, names)
    assert ward_names.take(freed, SOUTH, "North", None) == [WardNameTaken(SOUTH, "North")]
    closed = ward_names.WARD_NAMES.fold(ward_names.free(NORTH, "East"), freed)
    assert closed.holders == {}


def test_a_stay_is_open_from_admission_to_discharge() -> None:
    opened = STAY.fold([PatientStayOpened(PATIENT, ADM)])
    assert opened.admission_id == ADM
    closed = STAY.evolve(opened, PatientStayClosed(PATIENT, ADM, T0))
    assert closed == Stay(None, T0)
    assert STAY.evolve(opened, PatientStayClosed(PATIENT, OTHER_ADM, T0)) == opened
    assert STAY.evolve(closed, PatientStayOpened(PATIENT, OTHER_ADM)) == Stay(OTHER_ADM, T0)


def test_each_patient_has_their_own_stay_stream() -> None:
    assert stay_stream_id(PATIENT) == stay_stream_id(PATIENT)
    assert stay_stream_id(PATIENT) != stay_stream_id(OTHER_PATIENT)
    assert stay_stream_id(PATIENT) != PATIENT


# Admitting


def test_admitting_occupies_the_bed_and_opens_the_stay_in_one_decision() -> None:
    decision = model.admit(
        Admission(), ADM, PATIENT, ward(), Stay(), "A2", " cardiology ", " chest pain ", T0
    )
    assert decision.admission == [
        PatientAdmitted(ADM, PATIENT, NORTH, "A2", "cardiology", "chest pain", T0)
    ]
    assert decision.wards == {NORTH: [BedOccupied(NORTH, "A2", ADM, PATIENT)]}
    assert decision.stay == [PatientStayOpened(PATIENT, ADM)]
    state = ADMISSION.fold(decision.admission)
    assert (state.status, state.ward_id, state.bed, state.moved_at) == ("admitted", NORTH, "A2", T0)


def test_a_blank_specialty_is_none() -> None:
    decision = model.admit(Admission(), ADM, PATIENT, ward(), Stay(), "A1", "  ", "fall", T0)
    assert ADMISSION.fold(decision.admission).specialty is None


def test_an_occupied_bed_refuses_a_second_patient() -> None:
    with pytest.raises(Conflict) as e:
        model.admit(
            Admission(), ADM, PATIENT, ward(NORTH, ("A1", OTHER_ADM)), Stay(), "A1", None, "x", T0
        )
    assert e.value.code == "BED_OCCUPIED"


def test_a_patient_has_at_most_one_open_admission() -> None:
    with pytest.raises(Conflict) as e:
        model.admit(Admission(), ADM, PATIENT, ward(), Stay(OTHER_ADM), "A1", None, "x", T0)
    assert e.value.code == "ALREADY_ADMITTED"


@pytest.mark.parametrize(
    ("target", "bed", "reason", "field"),
    [(Ward(), "A1", "x", "ward_id"), (ward(), "Z9", "x", "bed"), (ward(), "A1", " ", "reason")],
)
def test_admitting_needs_an_existing_ward_and_bed_and_a_reason(
    target: Ward, bed: str, reason: str, field: str
) -> None:
    with pytest.raises(Invalid) as e:
        model.admit(Admission(), ADM, PATIENT, target, Stay(), bed, None, reason, T0)
    assert e.value.field == field


def test_a_late_admission_does_not_overlap_the_patients_previous_stay() -> None:
    left = T0 + 10 * HOUR
    stay = Stay(None, left)
    with pytest.raises(Invalid) as e:
        model.admit(Admission(), ADM, PATIENT, ward(), stay, "A1", None, "x", left - HOUR)
    assert e.value.field == "admitted_at"
    model.admit(Admission(), ADM, PATIENT, ward(), stay, "A1", None, "x", left)


def test_a_late_admission_does_not_overlap_the_beds_previous_occupant() -> None:
    left = T0 + 10 * HOUR
    freed = wards.evolve(ward(NORTH, ("A1", OTHER_ADM)), BedReleased(NORTH, "A1", OTHER_ADM, left))
    with pytest.raises(Invalid) as e:
        model.admit(Admission(), ADM, PATIENT, freed, Stay(), "A1", None, "x", left - HOUR)
    assert e.value.field == "admitted_at"
    model.admit(Admission(), ADM, PATIENT, freed, Stay(), "A1", None, "x", left)
    model.admit(Admission(), ADM, PATIENT, freed, Stay(), "A2", None, "x", left - HOUR)


def test_a_bed_label_is_taken_as_wards_hold_it_when_admitting_and_transferring() -> None:
    """One normalisation wherever a label is given: surrounding whitespace goes, and a label
    typed decomposed (A + combining diaeresis) names the bed defined composed."""
    composed = WARD.fold(wards.define(Ward(), NORTH, "North", ["C6", "\u00c41"]))
    decision = model.admit(Admission(), ADM, PATIENT, composed, Stay(), " C6\t", None, "x", T0)
    assert decision.wards == {NORTH: [BedOccupied(NORTH, "C6", ADM, PATIENT)]}
    current = WARD.fold([*_history(composed), *decision.wards[NORTH]])
    moved = model.transfer(
        ADMISSION.fold(decision.admission), current, current, " A\u03081 ", None, T0 + HOUR
    )
    assert moved.wards[NORTH][1] == BedOccupied(NORTH, "\u00c41", ADM, PATIENT)


def test_an_admission_is_recorded_once() -> None:
    with pytest.raises(Conflict) as e:
        model.admit(admitted(), ADM, PATIENT, ward(), Stay(), "A2", None, "x", T0)
    assert e.value.code == "ADMISSION_EXISTS"


# Transfers


def test_a_transfer_to_another_ward_releases_the_old_bed_and_occupies_the_new() -> None:
    now = T0 + 5 * HOUR
    decision = model.transfer(
        admitted(), ward(NORTH, ("A1", ADM)), ward(SOUTH), "A3", " step-down ", now
    )
    assert decision.admission == [
        PatientTransferred(ADM, NORTH, "A1", SOUTH, "A3", "step-down", now)
    ]
    assert decision.wards == {
        NORTH: [BedReleased(NORTH, "A1", ADM, now)],
        SOUTH: [BedOccupied(SOUTH, "A3", ADM, PATIENT)],
    }
    assert decision.stay == []
    state = model.evolve(admitted(), decision.admission[0])
    assert (state.ward_id, state.bed, state.moved_at, state.transfers) == (SOUTH, "A3", now, 1)
    assert state.admitted_at == T0


def test_a_bed_change_within_the_ward_appends_both_to_the_ward_stream() -> None:
    current = ward(NORTH, ("A1", ADM))
    decision = model.transfer(admitted(), current, current, "A2", None, T0 + HOUR)
    assert decision.wards == {
        NORTH: [BedReleased(NORTH, "A1", ADM, T0 + HOUR), BedOccupied(NORTH, "A2", ADM, PATIENT)]
    }
    after = WARD.fold([*_history(current), *decision.wards[NORTH]])
    assert after.occupants == {"A2": ADM}


def test_a_transfer_to_an_occupied_bed_is_refused() -> None:
    current = ward(NORTH, ("A1", ADM), ("A2", OTHER_ADM))
    with pytest.raises(Conflict) as e:
        model.transfer(admitted(), current, current, "A2", None, T0 + HOUR)
    assert e.value.code == "BED_OCCUPIED"


@pytest.mark.parametrize(
    ("target", "bed", "field"),
    [(Ward(), "A1", "ward_id"), (ward(SOUTH), "Z9", "bed"), (ward(NORTH), "A1", "bed")],
)
def test_a_transfer_needs_another_existing_bed(target: Ward, bed: str, field: str) -> None:
    with pytest.raises(Invalid) as e:
        model.transfer(admitted(), ward(NORTH, ("A1", ADM)), target, bed, None, T0 + HOUR)
    assert e.value.field == field


def test_a_discharged_admission_takes_no_commands() -> None:
    for command in (
        lambda: model.transfer(discharged(), ward(), ward(SOUTH), "A1", None, T0 + 40 * HOUR),
        lambda: model.discharge(discharged(), "home", None, T0 + 40 * HOUR, "UTC"),
    ):
        with pytest.raises(Conflict) as e:
            command()
        assert e.value.code == "ADMISSION_CLOSED"


def test_commands_on_an_unknown_admission_are_not_found() -> None:
    with pytest.raises(NotFound):
        model.transfer(Admission(), Ward(), ward(), "A1", None, T0)
    with pytest.raises(NotFound):
        model.discharge(Admission(), "home", None, T0, "UTC")


# Discharge and length of stay


def test_discharge_releases_the_bed_and_closes_the_stay() -> None:
    at = T0 + 50 * HOUR
    decision = model.discharge(admitted("A3"), "rehabilitation", " walk daily ", at, "UTC")
    assert decision.admission == [PatientDischarged(ADM, "rehabilitation", "walk daily", at, "UTC")]
    assert decision.wards == {NORTH: [BedReleased(NORTH, "A3", ADM, at)]}
    assert decision.stay == [PatientStayClosed(PATIENT, ADM, at)]
    state = model.evolve(admitted("A3"), decision.admission[0])
    assert (state.status, state.discharged_at, state.disposition) == (
        "discharged",
        at,
        "rehabilitation",
    )
    assert model.view(state)["length_of_stay"] == {"days": 2, "hours": 50}


def test_a_disposition_is_one_of_the_known_ones() -> None:
    with pytest.raises(Invalid) as e:
        model.discharge(admitted(), "elsewhere", None, T0 + HOUR, "UTC")
    assert e.value.field == "disposition"


def test_discharge_is_not_before_the_patient_moved_into_their_bed() -> None:
    moved = model.evolve(
        admitted(), PatientTransferred(ADM, NORTH, "A1", SOUTH, "A1", None, T0 + 10 * HOUR)
    )
    with pytest.raises(Invalid) as e:
        model.discharge(moved, "home", None, T0 + 9 * HOUR, "UTC")
    assert e.value.field == "discharged_at"
    model.discharge(moved, "home", None, T0 + 10 * HOUR, "UTC")


def local(zone: str, *moment: int) -> dt.datetime:
    return dt.datetime(*moment, tzinfo=ZoneInfo(zone))  # type: ignore[misc]


@pytest.mark.parametrize(
    ("admitted_at", "discharged_at", "zone", "los"),
    [
        (T0, T0, "UTC", LengthOfStay(0, 0)),
        (T0, T0 + dt.timedelta(hours=15, minutes=59), "UTC", LengthOfStay(0, 15)),
        (T0, T0 + dt.timedelta(hours=16), "UTC", LengthOfStay(1, 16)),
        (T0, T0 + dt.timedelta(days=12, hours=7), "UTC", LengthOfStay(12, 295)),
        # In at 23:50, out at 00:10 in Kolkata: one midnight there, none in UTC.
        (local(IST, 2026, 5, 1, 23, 50), local(IST, 2026, 5, 2, 0, 10), IST, LengthOfStay(1, 0)),
        (local(IST, 2026, 5, 1, 23, 50), local(IST, 2026, 5, 2, 0, 10), "UTC", LengthOfStay(0, 0)),
        (local(IST, 2026, 5, 1, 0, 10), local(IST, 2026, 5, 1, 23, 50), IST, LengthOfStay(0, 23)),
        # Noon to noon across the spring-forward night: one day of 23 hours.
        (local(NY, 2026, 3, 7, 12), local(NY, 2026, 3, 8, 12), NY, LengthOfStay(1, 23)),
    ],
)
def test_length_of_stay_counts_midnights_in_the_tenants_zone_and_whole_hours(
    admitted_at: dt.datetime, discharged_at: dt.datetime, zone: str, los: LengthOfStay
) -> None:
    assert length_of_stay(admitted_at, discharged_at, zone) == los


def test_a_stay_is_counted_in_the_zone_of_its_discharge() -> None:
    admitted_at = local(IST, 2026, 5, 1, 23, 50)
    state = ADMISSION.fold(
        [
            PatientAdmitted(ADM, PATIENT, NORTH, "A1", None, "fall", admitted_at),
            *model.discharge(
                admitted(), "home", None, admitted_at + 20 * dt.timedelta(minutes=1), IST
            ).admission,
        ]
    )
    assert model.view(state)["length_of_stay"] == {"days": 1, "hours": 0}


def test_an_open_stay_has_no_length_yet() -> None:
    assert model.view(admitted())["length_of_stay"] is None


# Hospital and clinical time


def test_only_a_hospital_admits() -> None:
    model.require_hospital("hospital")
    with pytest.raises(Conflict) as e:
        model.require_hospital("clinic")
    assert e.value.code == "NOT_A_HOSPITAL"


def test_a_late_time_names_the_request_field() -> None:
    now, late = T0, dt.timedelta(hours=72)
    assert occurred_at(None, now, late, "admitted_at") == now
    assert occurred_at(now - 72 * HOUR, now, late, "admitted_at") == now - 72 * HOUR
    for claimed in (now + dt.timedelta(seconds=1), now - 73 * HOUR):
        with pytest.raises(Invalid) as e:
            occurred_at(claimed, now, late, "admitted_at")
        assert e.value.field == "admitted_at"


def test_the_stream_types_are_registered() -> None:
    assert aggregate_for("ward") is WARD
    assert aggregate_for("admission") is ADMISSION
    assert aggregate_for("patient_stay") is STAY


def _history(state: Ward) -> list[WardDefined | BedOccupied]:
    """Events that rebuild `state` (a ward as built by `ward`)."""
    assert state.id is not None
    return [
        WardDefined(state.id, state.name, state.beds),
        *(BedOccupied(state.id, b, a, PATIENT) for b, a in state.occupants.items()),
    ]
