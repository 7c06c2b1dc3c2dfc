"""The visit aggregate: opening, note revisions, services, sign-off, addenda, vitals,
prescriptions and the lab order timeline."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest

from backend.billing.model import MAX_LINES
from backend.encounters import model
from backend.encounters.events import (
    AddendumAdded,
    BillableServiceAdded,
    LabOrdered,
    LabResultReported,
    LabSpecimenCollected,
    PrescriptionIssued,
    VisitNoteDrafted,
    VisitOpened,
    VisitSignedOff,
    VitalsRecorded,
)
from backend.encounters.model import VISIT, NotVisitOwner, Visit
from backend.encounters.vitals import Readings, check_readings
from backend.kernel.aggregate import aggregate_for
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent
from backend.scheduling.model import Appointment

VISIT_ID = uuid.UUID("10000000-0000-4000-8000-000000000001")
PATIENT = uuid.UUID("20000000-0000-4000-8000-000000000002")
DOC = uuid.UUID("30000000-0000-4000-8000-000000000003")
APPT = uuid.UUID("40000000-0000-4000-8000-000000000004")
ORDER = uuid.UUID("50000000-0000-4000-8000-000000000005")
NOW = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)
NOTE = {"subjective": "cough", "objective": "38.2 C", "assessment": "bronchitis", "plan": "rest"}


def opened() -> Visit:
    return VISIT.fold([VisitOpened(VISIT_ID, PATIENT, DOC, None, None, NOW)])


def after(state: Visit, events: list[DomainEvent]) -> Visit:
    for event in events:
        state = model.evolve(state, event)
    return state


def signed() -> Visit:
    noted = after(opened(), model.draft_note(opened(), NOTE))
    return after(noted, model.sign_off(noted, str(DOC), is_doctor=True))


def appointment(status: str, patient: uuid.UUID = PATIENT, doc: uuid.UUID = DOC) -> Appointment:
    return Appointment(APPT, patient, doc, NOW, NOW + dt.timedelta(minutes=30), None, status)


def test_the_visit_aggregate_is_registered() -> None:
    assert aggregate_for("visit") is VISIT


def test_visit_id_follows_from_the_appointment() -> None:
    assert model.visit_id_for(APPT) == model.visit_id_for(APPT)
    assert model.visit_id_for(APPT) != model.visit_id_for(uuid.uuid4())


def test_walk_in_opens_without_appointment() -> None:
    events = model.open_visit(Visit(), VISIT_ID, PATIENT, DOC, None, None, "  fever ", NOW)
    assert events == [VisitOpened(VISIT_ID, PATIENT, DOC, None, "fever", NOW)]
    state = after(Visit(), events)
    assert (state.status, state.opened_at, state.note) == ("open", NOW, None)


def test_blank_reason_is_none() -> None:
    [event] = model.open_visit(Visit(), VISIT_ID, PATIENT, DOC, None, None, "   ", NOW)
    assert isinstance(event, VisitOpened) and event.reason is None


@pytest.mark.parametrize("status", ["confirmed", "checked_in"])
def test_opens_from_a_confirmed_or_checked_in_appointment(status: str) -> None:
    [event] = model.open_visit(
        Visit(), VISIT_ID, PATIENT, DOC, APPT, appointment(status), None, NOW
    )
    assert isinstance(event, VisitOpened) and event.appointment_id == APPT


@pytest.mark.parametrize("status", ["requested", "cancelled", "completed", "no_show"])
def test_refuses_an_appointment_in_another_status(status: str) -> None:
    with pytest.raises(Conflict) as e:
        model.open_visit(Visit(), VISIT_ID, PATIENT, DOC, APPT, appointment(status), None, NOW)
    assert e.value.code == "APPOINTMENT_NOT_CHECKED_IN"


def test_refuses_a_missing_or_mismatched_appointment() -> None:
    cases = [
        None,
        Appointment(),
        appointment("checked_in", patient=uuid.uuid4()),
        appointment("checked_in", doc=uuid.uuid4()),
    ]
    for appt in cases:
        with pytest.raises(Invalid) as e:
            model.open_visit(Visit(), VISIT_ID, PATIENT, DOC, APPT, appt, None, NOW)
        assert e.value.field == "appointment_id"


def test_a_second_open_is_refused() -> None:
    with pytest.raises(Conflict) as e:
        model.open_visit(opened(), VISIT_ID, PATIENT, DOC, None, None, None, NOW)
    assert e.value.code == "VISIT_EXISTS"


def test_commands_on_a_missing_visit_are_not_found() -> None:
    commands = [
        lambda: model.draft_note(Visit(), NOTE),
        lambda: model.add_service(Visit(), "C", "d", 1, "1"),
        lambda: model.sign_off(Visit(), str(DOC), True),
        lambda: model.add_addendum(Visit(), "t", "a", NOW),
        lambda: model.record_vitals(Visit(), NOW, Readings(heart_rate=70)),
        lambda: model.issue_prescription(Visit(), ORDER, "m", "d", "r", "f", None, "a"),
        lambda: model.order_lab(Visit(), ORDER, "CBC", "Blood count", NOW),
        lambda: model.collect_specimen(Visit(), ORDER, NOW),
    ]
    for command in commands:
        with pytest.raises(NotFound):
            command()


def test_note_revisions_count_up_and_identical_content_records_nothing() -> None:
    first = model.draft_note(opened(), NOTE)
    assert first == [VisitNoteDrafted(VISIT_ID, 1, **NOTE)]
    state = after(opened(), first)
    assert model.draft_note(state, dict(NOTE)) == []
    [second] = model.draft_note(state, {**NOTE, "plan": "antibiotics"})
    assert isinstance(second, VisitNoteDrafted) and second.revision == 2
    state = after(state, [second])
    assert state.note == {**NOTE, "plan": "antibiotics"} and state.note_revision == 2


def test_services_are_recorded_with_two_decimal_prices() -> None:
    [event] = model.add_service(opened(), " CONS ", "Consultation", 2, "45.5")
    assert event == BillableServiceAdded(VISIT_ID, "CONS", "Consultation", 2, Decimal("45.50"))
    state = after(opened(), [event])
    assert state.services == (
        {"code": "CONS", "description": "Consultation", "quantity": 2, "unit_price": "45.50"},
    )


@pytest.mark.parametrize(
    ("quantity", "price", "field"),
    [
        (0, "1.00", "quantity"),
        (-1, "1.00", "quantity"),
        (10_001, "1.00", "quantity"),
        (1, "-0.01", "unit_price"),
        (1, "abc", "unit_price"),
        (1, "NaN", "unit_price"),
        (1, "Infinity", "unit_price"),
        (1, "1.005", "unit_price"),
        (1, "1000000000", "unit_price"),
        (1, "12.500", "unit_price"),  # billing refuses three places: so must the visit
    ],
)
def test_bad_services_name_the_field(quantity: int, price: str, field: str) -> None:
    with pytest.raises(Invalid) as e:
        model.add_service(opened(), "C", "d", quantity, price)
    assert e.value.field == field


def test_a_free_service_is_allowed() -> None:
    [event] = model.add_service(opened(), "FU", "Follow-up", 1, "0")
    assert isinstance(event, BillableServiceAdded) and event.unit_price == Decimal("0.00")


def test_a_visit_holds_no_more_services_than_an_invoice_holds_lines() -> None:
    state = opened()
    for n in range(MAX_LINES):
        state = after(state, model.add_service(state, f"S{n}", "service", 1, "1"))
    with pytest.raises(Invalid) as e:
        model.add_service(state, "ONE-MORE", "service", 1, "1")
    assert e.value.field == "services"


def test_blank_service_code_is_refused() -> None:
    with pytest.raises(Invalid) as e:
        model.add_service(opened(), "  ", "d", 1, "1")
    assert e.value.field == "code"


def test_sign_off_carries_the_services_in_the_contract_shape() -> None:
    state = after(opened(), model.draft_note(opened(), NOTE))
    state = after(state, model.add_service(state, "CONS", "Consultation", 1, "45"))
    state = after(state, model.add_service(state, "ECG", "Electrocardiogram", 2, "12.30"))
    [event] = model.sign_off(state, str(DOC), is_doctor=True)
    assert isinstance(event, VisitSignedOff)
    assert (event.visit_id, event.patient_id, event.practitioner_id) == (VISIT_ID, PATIENT, DOC)
    assert event.appointment_id is None
    assert event.services == (
        {"code": "CONS", "description": "Consultation", "quantity": 1, "unit_price": "45.00"},
        {"code": "ECG", "description": "Electrocardiogram", "quantity": 2, "unit_price": "12.30"},
    )
    for line in event.services:
        assert type(line["quantity"]) is int and isinstance(line["unit_price"], str)
    assert after(state, [event]).status == "signed"


def test_only_the_owning_doctor_signs() -> None:
    state = after(opened(), model.draft_note(opened(), NOTE))
    for actor, is_doctor in [(str(uuid.uuid4()), True), (str(DOC), False)]:
        with pytest.raises(NotVisitOwner) as e:
            model.sign_off(state, actor, is_doctor)
        assert (e.value.code, e.value.status) == ("NOT_VISIT_OWNER", 403)


def test_sign_off_needs_a_note_with_content() -> None:
    for state in (opened(), after(opened(), model.draft_note(opened(), {}))):
        with pytest.raises(Conflict) as e:
            model.sign_off(state, str(DOC), True)
        assert e.value.code == "NOTE_REQUIRED"


def test_after_sign_off_the_record_is_frozen() -> None:
    state = signed()
    frozen = [
        lambda: model.sign_off(state, str(DOC), True),
        lambda: model.draft_note(state, {**NOTE, "plan": "x"}),
        lambda: model.draft_note(state, NOTE),
        lambda: model.add_service(state, "C", "d", 1, "1"),
        lambda: model.record_vitals(state, NOW, Readings(heart_rate=70)),
        lambda: model.issue_prescription(state, ORDER, "m", "d", "r", "f", None, "a"),
    ]
    for command in frozen:
        with pytest.raises(Conflict) as e:
            command()
        assert e.value.code == "VISIT_SIGNED"


def test_addenda_only_after_sign_off() -> None:
    with pytest.raises(Conflict) as e:
        model.add_addendum(opened(), "late finding", "nurse-1", NOW)
    assert e.value.code == "VISIT_NOT_SIGNED"
    events = model.add_addendum(signed(), " late finding ", "nurse-1", NOW)
    assert events == [AddendumAdded(VISIT_ID, "late finding", "nurse-1", NOW)]
    assert after(signed(), events).addenda == (
        {"text": "late finding", "author": "nurse-1", "added_at": NOW.isoformat()},
    )
    with pytest.raises(Invalid):
        model.add_addendum(signed(), "  ", "nurse-1", NOW)


def test_vitals_are_recorded_at_the_time_taken() -> None:
    taken = NOW - dt.timedelta(hours=3)
    readings = Readings(heart_rate=72, systolic=120, diastolic=80, temperature_c=Decimal("37.2"))
    [event] = model.record_vitals(opened(), taken, readings)
    assert event == VitalsRecorded(
        VISIT_ID, taken, 72, 120, 80, Decimal("37.2"), None, None, None, None
    )
    assert after(opened(), [event]).vitals == (
        {
            "taken_at": taken.isoformat(),
            "heart_rate": 72,
            "systolic": 120,
            "diastolic": 80,
            "temperature_c": "37.2",
        },
    )


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


def test_prescription() -> None:
    events = model.issue_prescription(
        opened(), ORDER, " Amoxicillin ", "500 mg", "oral", "3x daily", 7, "doc"
    )
    assert events == [
        PrescriptionIssued(VISIT_ID, ORDER, "Amoxicillin", "500 mg", "oral", "3x daily", 7, "doc")
    ]
    [line] = after(opened(), events).prescriptions
    assert line["prescription_id"] == str(ORDER) and line["duration_days"] == 7


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
        model.issue_prescription(opened(), ORDER, *args, "doc")
    assert e.value.field == field


def lab_flow(state: Visit) -> Visit:
    ordered = after(state, model.order_lab(state, ORDER, "CBC", "Blood count", NOW))
    assert ordered.lab_orders[0]["status"] == "ordered"
    collected = after(ordered, model.collect_specimen(ordered, ORDER, NOW))
    assert collected.lab_orders[0]["status"] == "collected"
    result = model.report_result(collected, ORDER, "13.5", "g/dL", "12-16", False, " ", NOW)
    assert result == [LabResultReported(VISIT_ID, ORDER, "13.5", "g/dL", "12-16", False, None, NOW)]
    return after(collected, result)


def test_lab_order_timeline() -> None:
    [order] = lab_flow(opened()).lab_orders
    assert order == {
        "order_id": str(ORDER),
        "test_code": "CBC",
        "test_name": "Blood count",
        "status": "reported",
        "ordered_at": NOW.isoformat(),
        "collected_at": NOW.isoformat(),
        "reported_at": NOW.isoformat(),
        "result": {
            "value": "13.5",
            "unit": "g/dL",
            "reference_range": "12-16",
            "abnormal": False,
            "comment": None,
        },
    }


def test_lab_orders_and_results_continue_after_sign_off() -> None:
    assert lab_flow(signed()).lab_orders[0]["status"] == "reported"


def test_lab_status_transitions_are_enforced() -> None:
    ordered = after(opened(), [LabOrdered(VISIT_ID, ORDER, "CBC", "Blood count", NOW)])
    with pytest.raises(Conflict) as e:
        model.report_result(ordered, ORDER, "1", None, None, False, None, NOW)
    assert e.value.code == "INVALID_STATUS_TRANSITION"
    collected = after(ordered, [LabSpecimenCollected(VISIT_ID, ORDER, NOW)])
    with pytest.raises(Conflict) as e:
        model.collect_specimen(collected, ORDER, NOW)
    assert e.value.code == "INVALID_STATUS_TRANSITION"
    reported = after(
        collected, [LabResultReported(VISIT_ID, ORDER, "1", None, None, False, None, NOW)]
    )
    for command in (
        lambda: model.collect_specimen(reported, ORDER, NOW),
        lambda: model.report_result(reported, ORDER, "2", None, None, False, None, NOW),
    ):
        with pytest.raises(Conflict) as e:
            command()
        assert e.value.code == "INVALID_STATUS_TRANSITION"


def test_unknown_lab_order_is_not_found() -> None:
    with pytest.raises(NotFound):
        model.collect_specimen(opened(), ORDER, NOW)
    with pytest.raises(NotFound):
        model.report_result(opened(), ORDER, "1", None, None, False, None, NOW)


def test_blank_lab_fields_are_refused() -> None:
    with pytest.raises(Invalid) as e:
        model.order_lab(opened(), ORDER, " ", "Blood count", NOW)
    assert e.value.field == "test_code"
    collected = after(
        opened(),
        [LabOrdered(VISIT_ID, ORDER, "CBC", "x", NOW), LabSpecimenCollected(VISIT_ID, ORDER, NOW)],
    )
    with pytest.raises(Invalid) as e:
        model.report_result(collected, ORDER, "  ", None, None, False, None, NOW)
    assert e.value.field == "value"


def test_nested_state_is_json_native_so_the_read_model_folds_the_same() -> None:
    """The read model stores the lists as jsonb and reads them back as JSON values."""
    state = lab_flow(signed())
    state = after(state, model.add_addendum(state, "seen again", "doc", NOW))
    for name in ("services", "vitals", "prescriptions", "lab_orders", "addenda"):
        nested = getattr(state, name)
        assert json.loads(json.dumps(nested)) == list(nested), name
    assert model.view(state)["status"] == "signed"
