"""Prescriptions: who prescribes, stopping them, the patient's active medications and the
warnings from the reference data."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from visit_states import DOC, NOW, ORDER, PATIENT, VISIT_ID, after, opened, signed

from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.tenancy.model import Practitioner
from backend.visits import prescriptions
from backend.visits.events import (
    MedicationStarted,
    MedicationStopped,
    PrescriptionCancelled,
    PrescriptionDiscontinued,
    PrescriptionIssued,
)
from backend.visits.formulary import daily_dose_mg, prescribing_warnings
from backend.visits.patient_medications import PATIENT_MEDICATIONS, active, start, stop
from backend.visits.prescribing import formulary
from backend.visits.prescriptions import NotAPractitioner
from backend.visits.state import Visit

LATER = NOW + dt.timedelta(hours=1)


def issued(state: Visit) -> Visit:
    events = prescriptions.issue_prescription(
        state, ORDER, "Diazepam", "5 mg", "oral", "tds", None, str(DOC)
    )
    return after(state, events)


def test_prescription() -> None:
    events = prescriptions.issue_prescription(
        opened(), ORDER, " Amoxicillin ", "500 mg", "oral", "3x daily", 7, "doc"
    )
    assert events == [
        PrescriptionIssued(VISIT_ID, ORDER, "Amoxicillin", "500 mg", "oral", "3x daily", 7, "doc")
    ]
    [line] = after(opened(), events).prescriptions
    assert line["prescription_id"] == str(ORDER) and line["duration_days"] == 7
    assert (line["status"], line["stopped"]) == ("active", None)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("", "1", "po", "qd", None), "medication"),
        (("m", " ", "po", "qd", None), "dose"),
        (("m", "1", "", "qd", None), "route"),
        (("m", "1", "po", "", None), "frequency"),
        (("m", "1", "po", "qd", 0), "duration_days"),
        (("m", "1", "po", "qd", 366), "duration_days"),
    ],
)
def test_bad_prescriptions_name_the_field(args: tuple[Any, ...], field: str) -> None:
    with pytest.raises(Invalid) as e:
        prescriptions.issue_prescription(opened(), ORDER, *args, "doc")
    assert e.value.field == field


def test_only_a_practitioner_of_the_tenant_prescribes() -> None:
    prescriptions.check_prescriber(str(DOC), Practitioner(DOC, "Dr. Grey"))
    for actor, practitioner in [("dr-nobody", Practitioner()), (str(DOC), Practitioner())]:
        with pytest.raises(NotAPractitioner) as e:
            prescriptions.check_prescriber(actor, practitioner)
        assert (e.value.code, e.value.status) == ("NOT_A_PRACTITIONER", 403)


def test_a_prescription_is_discontinued_or_cancelled_also_after_sign_off() -> None:
    state = signed(issued(opened()))
    [stopped] = prescriptions.discontinue(state, ORDER, " rash ", str(DOC), LATER)
    assert stopped == PrescriptionDiscontinued(VISIT_ID, ORDER, "rash", str(DOC), LATER)
    [line] = after(state, [stopped]).prescriptions
    assert line["status"] == "discontinued"
    assert line["stopped"] == {"reason": "rash", "by": str(DOC), "at": LATER.isoformat()}
    [cancelled] = prescriptions.cancel(state, ORDER, "wrong patient", str(DOC), LATER)
    assert cancelled == PrescriptionCancelled(VISIT_ID, ORDER, "wrong patient", str(DOC), LATER)
    assert after(state, [cancelled]).prescriptions[0]["status"] == "cancelled"


def test_only_an_active_prescription_is_stopped_and_with_a_reason() -> None:
    state = issued(opened())
    with pytest.raises(Invalid) as invalid:
        prescriptions.cancel(state, ORDER, " ", "doc", NOW)
    assert invalid.value.field == "reason"
    with pytest.raises(NotFound):
        prescriptions.discontinue(state, uuid.uuid4(), "rash", "doc", NOW)
    state = after(state, prescriptions.cancel(state, ORDER, "typo", "doc", NOW))
    for stopping in (prescriptions.cancel, prescriptions.discontinue):
        with pytest.raises(Conflict) as e:
            stopping(state, ORDER, "again", "doc", NOW)
        assert e.value.code == "INVALID_STATUS_TRANSITION"


def test_the_patients_medications_end_with_their_duration_or_when_stopped() -> None:
    week, open_ended = uuid.uuid4(), uuid.uuid4()
    events = start(PATIENT, week, VISIT_ID, "Amoxicillin", 7, NOW)
    assert events == [
        MedicationStarted(PATIENT, week, VISIT_ID, "Amoxicillin", NOW + dt.timedelta(days=7))
    ]
    events += start(PATIENT, open_ended, VISIT_ID, "Diazepam", None, NOW)
    state = PATIENT_MEDICATIONS.fold(events)
    assert [p["medication"] for p in active(state, NOW + dt.timedelta(days=6))] == [
        "Amoxicillin",
        "Diazepam",
    ]
    assert [p["medication"] for p in active(state, NOW + dt.timedelta(days=7))] == ["Diazepam"]
    assert stop(state, PATIENT, open_ended) == [MedicationStopped(PATIENT, open_ended)]
    assert stop(state, PATIENT, uuid.uuid4()) == []  # issued before the stream existed
    stopped = PATIENT_MEDICATIONS.evolve(state, MedicationStopped(PATIENT, open_ended))
    assert active(stopped, NOW) == active(state, NOW)[:1]


@pytest.mark.parametrize(
    ("dose", "frequency", "mg"),
    [
        ("5000 mg", "4x daily", "20000"),
        ("1 g", "qds", "4000"),
        ("500mg", "every 6 hours", "2000"),
        ("30 mg", "every 4 hours as needed", "180"),
        ("250 mcg", "bd", "0.5"),
        ("1 tablet", "tds", None),
        ("500 mg", "as directed", None),
    ],
)
def test_daily_dose(dose: str, frequency: str, mg: str | None) -> None:
    assert daily_dose_mg(dose, frequency) == (None if mg is None else Decimal(mg))


def _rules(medication: str, dose: str, frequency: str, active: list[dict[str, str]]) -> list[str]:
    warnings = prescribing_warnings(formulary(), medication, dose, frequency, active)
    return [w["rule"] for w in warnings]


def test_above_the_maximum_daily_dose_warns() -> None:
    assert _rules("Paracetamol", "5000 mg", "4x daily", []) == ["max_daily_dose"]
    assert _rules("paracetamol 500mg tablets", "1 g", "qds", []) == []
    [warning] = prescribing_warnings(formulary(), "Tylenol", "1 g", "every 4 hours", [])
    assert (
        warning["message"]
        == "1 g every 4 hours is 6000 mg of paracetamol a day; the maximum is 4000 mg"
    )
    assert _rules("Morphine", "1000 mg", "qds", []) == []  # no single maximum


def test_the_same_drug_or_class_already_active_warns() -> None:
    diazepam = {"prescription_id": str(ORDER), "medication": "Diazepam 5 mg"}
    assert _rules("Diazepam", "5 mg", "tds", [diazepam]) == ["duplicate_therapy"]
    assert _rules("Valium", "5 mg", "tds", [diazepam]) == ["duplicate_therapy"]
    assert _rules("Lorazepam", "1 mg", "bd", [diazepam]) == ["duplicate_therapy"]
    assert _rules("Amoxicillin", "500 mg", "tds", [diazepam]) == []
    metformin = {"prescription_id": str(ORDER), "medication": "Metformin"}
    assert _rules(" metformin ", "500 mg", "bd", [metformin]) == ["duplicate_therapy"]


def test_the_shipped_reference_data_reads() -> None:
    names = {m.name for m in formulary().medications}
    assert {"paracetamol", "ibuprofen", "diazepam"} <= names
    assert all(m.names and m.therapy_class for m in formulary().medications)
