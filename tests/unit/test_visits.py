"""The visit aggregate: opening, note revisions, services, sign-off and addenda (vitals, lab
orders, prescriptions: test_visit_vitals.py, test_visit_lab.py, test_visit_prescriptions.py)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
from visit_states import (
    APPT,
    DOC,
    NOTE,
    NOW,
    ORDER,
    PATIENT,
    READING,
    VISIT_ID,
    after,
    charted,
    opened,
    signed,
)

from backend.kernel.aggregate import aggregate_for
from backend.kernel.charges import MAX_LINES
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.scheduling.model import Appointment
from backend.visits import lab, model, prescriptions, vitals
from backend.visits.events import (
    AddendumAdded,
    BillableServiceAdded,
    VisitNoteDrafted,
    VisitOpened,
    VisitSignedOff,
)
from backend.visits.model import VISIT
from backend.visits.ownership import NotVisitOwner
from backend.visits.state import Visit
from backend.visits.vitals import Readings


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
        lambda: model.draft_note(Visit(), NOTE, "doc"),
        lambda: model.add_service(Visit(), "C", "d", 1, "1"),
        lambda: model.sign_off(Visit(), str(DOC), True),
        lambda: model.add_addendum(Visit(), "t", "a", NOW),
        lambda: vitals.record_vitals(Visit(), READING, NOW, Readings(heart_rate=70), "n"),
        lambda: prescriptions.issue_prescription(Visit(), ORDER, "m", "d", "r", "f", None, "a"),
        lambda: lab.order_lab(Visit(), ORDER, "CBC", "Blood count", NOW),
        lambda: lab.collect_specimen(Visit(), ORDER, NOW),
    ]
    for command in commands:
        with pytest.raises(NotFound):
            command()


def test_note_revisions_count_up_and_identical_content_records_nothing() -> None:
    first = model.draft_note(opened(), NOTE, "doc", " ")
    assert first == [
        VisitNoteDrafted(VISIT_ID, 1, **NOTE, patient_id=PATIENT, author="doc", reason=None)
    ]
    state = after(opened(), first)
    assert model.draft_note(state, dict(NOTE), "other", "a reason alone") == []
    [second] = model.draft_note(state, {**NOTE, "plan": "antibiotics"}, "cover", " culture ")
    assert isinstance(second, VisitNoteDrafted) and second.revision == 2
    assert (second.author, second.reason) == ("cover", "culture")
    state = after(state, [second])
    assert state.note == {**NOTE, "plan": "antibiotics"} and state.note_revision == 2
    assert state.note_author == "cover"


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
    state = after(opened(), model.draft_note(opened(), NOTE, "doc"))
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
    state = after(opened(), model.draft_note(opened(), NOTE, "doc"))
    for actor, is_doctor in [(str(uuid.uuid4()), True), (str(DOC), False)]:
        with pytest.raises(NotVisitOwner) as e:
            model.sign_off(state, actor, is_doctor)
        assert (e.value.code, e.value.status) == ("NOT_VISIT_OWNER", 403)


def test_sign_off_needs_a_note_with_content() -> None:
    for state in (opened(), after(opened(), model.draft_note(opened(), {}, "doc"))):
        with pytest.raises(Conflict) as e:
            model.sign_off(state, str(DOC), True)
        assert e.value.code == "NOTE_REQUIRED"


def test_after_sign_off_the_record_is_frozen() -> None:
    state = signed()
    frozen = [
        lambda: model.sign_off(state, str(DOC), True),
        lambda: model.draft_note(state, {**NOTE, "plan": "x"}, "doc"),
        lambda: model.draft_note(state, NOTE, "doc"),
        lambda: model.add_service(state, "C", "d", 1, "1"),
        lambda: vitals.record_vitals(state, READING, NOW, Readings(heart_rate=70), "n"),
        lambda: prescriptions.issue_prescription(state, ORDER, "m", "d", "r", "f", None, "a"),
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
    assert events == [AddendumAdded(VISIT_ID, "late finding", "nurse-1", NOW, PATIENT)]
    assert after(signed(), events).addenda == (
        {"text": "late finding", "author": "nurse-1", "added_at": NOW.isoformat()},
    )
    with pytest.raises(Invalid):
        model.add_addendum(signed(), "  ", "nurse-1", NOW)


def test_nested_state_is_json_native_so_the_read_model_folds_the_same() -> None:
    """The read model stores the lists as jsonb and reads them back as JSON values."""
    state = signed(charted(opened()))
    state = after(state, vitals.enter_in_error(state, READING, "wrong arm", "n", False, NOW))
    state = after(state, model.add_addendum(state, "seen again", "doc", NOW))
    result = lab.LabResult("13.9", "g/dL", "12-16", False, None)
    state = after(state, lab.amend_result(state, ORDER, result, "misread", "tech", NOW))
    for name in ("services", "vitals", "prescriptions", "lab_orders", "addenda"):
        nested = getattr(state, name)
        assert json.loads(json.dumps(nested)) == list(nested), name
    assert model.view(state)["status"] == "signed"
