"""The patient aggregate: registration, detail changes, evolve."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from backend.kernel.aggregate import aggregate_for
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import from_data, revive_data, to_data
from backend.kernel.phones import PhoneInvalid
from backend.patients.events import PatientDetailsChanged, PatientRegistered
from backend.patients.model import (
    PATIENT,
    Patient,
    change_details,
    erase,
    evolve,
    register_patient,
    view,
)
from backend.scheduling.events import AppointmentConfirmed

PID = uuid.UUID("30000000-0000-4000-8000-000000000003")
TODAY = dt.date(2026, 5, 10)


def details(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "given_name": "Ann",
        "family_name": "Lee",
        "birth_date": dt.date(1980, 2, 29),
        "sex": "female",
        "phone": "+49 (30) 123-45",
        "email": "ann.lee@example.org",
        "specialty_data": {"cardiac": {"nyha_class": "II"}},
    }
    return base | overrides


def registered(**overrides: Any) -> Patient:
    return PATIENT.fold(register_patient(Patient(), PID, details(**overrides), TODAY))


def test_register_emits_patient_registered() -> None:
    events = register_patient(
        Patient(), PID, details(given_name=" Ann ", family_name="Lee  "), TODAY
    )
    assert events == [
        PatientRegistered(
            PID,
            "Ann",
            "Lee",
            dt.date(1980, 2, 29),
            "female",
            "+493012345",
            "ann.lee@example.org",
            {"cardiac": {"nyha_class": "II"}},
            "+49 (30) 123-45",
        )
    ]


def test_register_defaults_optional_fields() -> None:
    d = details()
    del d["phone"], d["email"], d["specialty_data"]
    (event,) = register_patient(Patient(), PID, d, TODAY)
    assert isinstance(event, PatientRegistered)
    assert (event.phone, event.email, event.specialty_data) == (None, None, {})
    (event,) = register_patient(Patient(), PID, details(specialty_data=None), TODAY)
    assert isinstance(event, PatientRegistered)
    assert event.specialty_data == {}


def test_register_accepts_birth_today() -> None:
    (event,) = register_patient(Patient(), PID, details(birth_date=TODAY), TODAY)
    assert isinstance(event, PatientRegistered)
    assert event.birth_date == TODAY


@pytest.mark.parametrize("sex", ["female", "male", "other", "unknown"])
def test_register_accepts_every_known_sex(sex: str) -> None:
    assert register_patient(Patient(), PID, details(sex=sex), TODAY)


def test_register_refuses_an_existing_patient() -> None:
    with pytest.raises(Conflict) as err:
        register_patient(registered(), PID, details(), TODAY)
    assert err.value.code == "PATIENT_EXISTS"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("given_name", ""),
        ("given_name", "   "),
        ("family_name", ""),
        ("family_name", "\t"),
        ("birth_date", TODAY + dt.timedelta(days=1)),
        ("sex", "f"),
        ("sex", "Female"),
        ("sex", ""),
        ("phone", "12"),
        ("phone", "call me"),
        ("phone", "+"),
        ("phone", "+49 30 12345678901234567890123"),
        ("email", "ann"),
        ("email", "ann@example"),
        ("email", "ann lee@example.org"),
        ("email", "@example.org"),
    ],
)
def test_register_validates(field: str, value: Any) -> None:
    with pytest.raises(Invalid) as err:
        register_patient(Patient(), PID, details(**{field: value}), TODAY)
    assert err.value.field == field


@pytest.mark.parametrize(("field", "value"), [("phone", "+49 30 1234\n"), ("email", "a@b.de\n")])
def test_register_refuses_a_trailing_newline(field: str, value: str) -> None:
    with pytest.raises(Invalid):
        register_patient(Patient(), PID, details(**{field: value}), TODAY)


def test_evolve_folds_registration_and_view_lists_every_field() -> None:
    state = registered()
    assert state.id == PID
    assert view(state) == {
        "id": PID,
        "given_name": "Ann",
        "family_name": "Lee",
        "birth_date": dt.date(1980, 2, 29),
        "sex": "female",
        "phone": "+493012345",
        "phone_as_typed": "+49 (30) 123-45",
        "email": "ann.lee@example.org",
        "specialty_data": {"cardiac": {"nyha_class": "II"}},
        "erased": False,
        "deceased": False,
        "died_at": None,
        "calculations": {},
        "merged_into": None,
        "merged_from": (),
    }


def test_change_details_of_a_missing_patient_is_not_found() -> None:
    with pytest.raises(NotFound) as err:
        change_details(Patient(), {"given_name": "Bo"}, TODAY)
    assert err.value.status == 404
    assert err.value.code == "NOT_FOUND"


def test_change_details_refuses_unknown_fields() -> None:
    with pytest.raises(Invalid) as err:
        change_details(registered(), {"id": uuid.uuid4(), "given_name": "Bo"}, TODAY)
    assert err.value.field == "id"
    with pytest.raises(Invalid) as err:
        change_details(registered(), {"zeta": 1, "alpha": 2}, TODAY)
    assert err.value.field == "alpha"  # the first unknown field by name


def test_change_details_returns_nothing_when_nothing_changes() -> None:
    state = registered()
    assert change_details(state, {}, TODAY) == []
    status = ("id", "erased", "deceased", "died_at", "calculations", "phone_as_typed")
    status += ("merged_into", "merged_from")
    same = {k: v for k, v in view(state).items() if k not in status}
    same["phone"] = state.phone_as_typed
    assert change_details(state, same, TODAY) == []


def test_change_details_records_only_changed_fields() -> None:
    state = registered()
    events = change_details(
        state,
        {"given_name": "Ann", "family_name": "Lee-Park", "sex": "female", "phone": None},
        TODAY,
    )
    assert events == [
        PatientDetailsChanged(
            PID, {"family_name": "Lee-Park", "phone": None, "phone_as_typed": None}
        )
    ]


def test_a_phone_is_read_in_the_tenants_region_and_kept_as_typed() -> None:
    (event,) = register_patient(Patient(), PID, details(phone="(212) 555-0102"), TODAY, "US")
    assert isinstance(event, PatientRegistered)
    assert (event.phone, event.phone_as_typed) == ("+12125550102", "(212) 555-0102")
    (event,) = register_patient(Patient(), PID, details(phone="030 1234567"), TODAY, "DE")
    assert isinstance(event, PatientRegistered)
    assert event.phone == "+49301234567"
    with pytest.raises(PhoneInvalid) as err:
        register_patient(Patient(), PID, details(phone="030 1234567"), TODAY, "US")
    assert (err.value.code, err.value.field) == ("PHONE_INVALID", "phone")


def test_the_same_number_typed_anew_records_both_forms() -> None:
    state = registered(phone="+1 212 555 0102")
    (event,) = change_details(state, {"phone": "(212) 555-0102"}, TODAY)
    assert event == PatientDetailsChanged(
        PID, {"phone": "+12125550102", "phone_as_typed": "(212) 555-0102"}
    )


def test_a_phone_recorded_as_typed_before_phones_were_read_folds_as_both_forms() -> None:
    v1 = to_data(
        PatientRegistered(PID, "Ann", "Lee", TODAY, "female", "212-555-0103", None, {}, None)
    )
    del v1["phone_as_typed"]
    registered_v1 = revive_data("PatientRegistered", 1, v1)
    state = PATIENT.fold([registered_v1])
    assert (state.phone, state.phone_as_typed) == ("212-555-0103", "212-555-0103")
    state = evolve(state, PatientDetailsChanged(PID, {"phone": "2125550104"}))
    assert (state.phone, state.phone_as_typed) == ("2125550104", "2125550104")


def test_change_details_merges_specialty_data_per_plugin_and_field() -> None:
    """A field given replaces that field alone, null removes it; other plugins are kept."""
    data = {"cardiac": {"nyha_class": "II", "ejection_fraction": 40}, "ortho": {"weight_kg": 80}}
    state = registered(specialty_data=data)
    given = {"cardiac": {"nyha_class": None, "ejection_fraction": 35}}
    [event] = change_details(state, {"specialty_data": given}, TODAY)
    assert event == PatientDetailsChanged(
        PID,
        {"specialty_data": {"cardiac": {"ejection_fraction": 35}, "ortho": {"weight_kg": 80}}},
    )
    [event] = change_details(state, {"specialty_data": {"ortho": None}}, TODAY)
    assert event.changes == {"specialty_data": {"cardiac": data["cardiac"]}}
    assert change_details(state, {"specialty_data": {"cardiac": {"nyha_class": "II"}}}, TODAY) == []
    for bad, field in ((None, "specialty_data"), ({"ortho": 80}, "specialty_data.ortho")):
        with pytest.raises(Invalid) as err:
            change_details(state, {"specialty_data": bad}, TODAY)
        assert err.value.field == field


def test_change_details_encodes_birth_date_as_iso_string() -> None:
    events = change_details(registered(), {"birth_date": dt.date(1981, 3, 4)}, TODAY)
    assert events == [PatientDetailsChanged(PID, {"birth_date": "1981-03-04"})]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("given_name", " "),
        ("given_name", None),
        ("family_name", ""),
        ("birth_date", TODAY + dt.timedelta(days=1)),
        ("sex", "x"),
        ("phone", "abc"),
        ("email", "nope"),
    ],
)
def test_change_details_validates(field: str, value: Any) -> None:
    with pytest.raises(Invalid) as err:
        change_details(registered(), {field: value}, TODAY)
    assert err.value.field == field


def test_change_details_trims_names_like_registration() -> None:
    assert change_details(registered(), {"given_name": "Ann "}, TODAY) == []


def test_evolve_applies_changes_including_birth_date_from_iso_string() -> None:
    state = registered()
    changed = evolve(
        state,
        PatientDetailsChanged(
            PID,
            {
                "birth_date": "1981-03-04",
                "email": None,
                "specialty_data": {"blood": "0-"},
                "given_name": "Anna",
            },
        ),
    )
    assert changed.birth_date == dt.date(1981, 3, 4)
    assert isinstance(changed.birth_date, dt.date)
    assert changed.email is None
    assert changed.specialty_data == {"blood": "0-"}
    assert changed.given_name == "Anna"
    assert (changed.family_name, changed.phone, changed.id) == ("Lee", state.phone, PID)


def test_change_then_fold_through_the_codec_reaches_the_new_state() -> None:
    state = registered()
    changes = {"birth_date": dt.date(1979, 12, 31), "sex": "other", "phone": "+1 212 555 0100"}
    stored = [from_data(e.type_name(), to_data(e)) for e in change_details(state, changes, TODAY)]
    after = PATIENT.fold([*register_patient(Patient(), PID, details(), TODAY), *stored])
    assert (after.birth_date, after.sex, after.phone) == (
        dt.date(1979, 12, 31),
        "other",
        "+12125550100",
    )
    assert change_details(after, changes, TODAY) == []


def test_evolve_ignores_foreign_events() -> None:
    state = registered()
    assert evolve(state, AppointmentConfirmed(PID)) is state


def test_patient_aggregate_is_registered() -> None:
    assert aggregate_for("patient") is PATIENT
    assert PATIENT.fold([]) == Patient()


def test_erasure_redacts_the_state_and_closes_it_to_changes() -> None:
    erased = evolve(registered(), erase(registered(), " patient's request ")[0])
    assert (erased.given_name, erased.family_name, erased.birth_date, erased.phone) == (
        "[erased]",
        "[erased]",
        None,
        None,
    )
    assert erased.erased and erased.email is None
    with pytest.raises(Conflict) as e:
        change_details(erased, {"phone": "+1 212 555 0100"}, TODAY)
    assert e.value.code == "PATIENT_ERASED"
    with pytest.raises(Conflict):
        erase(erased, "again")


def test_erasure_needs_a_reason_and_a_patient() -> None:
    with pytest.raises(Invalid):
        erase(registered(), "  ")
    with pytest.raises(NotFound):
        erase(Patient(), "reason")
