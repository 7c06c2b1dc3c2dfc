"""Pure rules of the plugins context: typed values, rules, calculators, expressions,
checklists and a tenant's specialties."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Hashable
from typing import Any

import pytest

from backend.admissions.model import Admission, evolve
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent
from backend.specialties import capture, workflows
from backend.specialties.events import CalculationRecorded
from backend.specialties.expressions import EvaluationError, History, compile_expression
from backend.specialties.folding import with_calculation
from backend.specialties.loading import load_plugin
from backend.specialties.model import (
    Calculation,
    Outcome,
    RuleFailed,
    ValueSpec,
    age_years,
    check_specialty_data,
    due_calculation,
    result_of,
    run_rules,
)
from backend.specialties.registry import DEFAULT_DIR
from backend.tenancy import model as tenancy

CARDIAC = load_plugin(DEFAULT_DIR / "cardiac")
ORTHO = load_plugin(DEFAULT_DIR / "orthopedics")
PLUGINS = {"cardiac": CARDIAC, "orthopedics": ORTHO}
AT = dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)
ID = uuid.UUID(int=1)
NO_RISK = {
    "congestive_heart_failure": False,
    "hypertension": False,
    "diabetes": False,
    "stroke_tia": False,
    "vascular_disease": False,
}


@pytest.mark.parametrize(
    ("spec", "value", "problem"),
    [
        (ValueSpec("number", 5, 80), 4.9, "at least 5"),
        (ValueSpec("number", 5, 80), 80.5, "at most 80"),
        (ValueSpec("number", 5, 80), True, "a number"),
        (ValueSpec("number", 5, 80), 35.5, None),
        (ValueSpec("integer", 0, 3), 1.5, "a whole number"),
        (ValueSpec("enum", values=("I", "II")), "III", "one of I, II"),
        (ValueSpec("boolean"), "yes", "true or false"),
        (ValueSpec("date"), "2026-02-30", "a date (YYYY-MM-DD)"),
        (ValueSpec("string", max_length=3), "abcd", "at most 3 characters"),
        (ValueSpec("string"), None, None),
    ],
)
def test_typed_values(spec: ValueSpec, value: Any, problem: str | None) -> None:
    assert spec.problem(value) == problem


def test_specialty_data_errors_name_the_path() -> None:
    with pytest.raises(Invalid) as bad:
        check_specialty_data(PLUGINS, "visit", {"cardiac": {"stroke_tia": True}}, "specialty_data")
    assert bad.value.field == "specialty_data.cardiac.stroke_tia", "a patient-only field"
    with pytest.raises(Invalid) as bad:
        check_specialty_data({}, "patient", {"cardiac": {}}, "specialty_data")
    assert bad.value.field == "specialty_data.cardiac"
    with pytest.raises(Invalid) as bad:
        check_specialty_data(PLUGINS, "patient", {"cardiac": [1]}, "specialty_data")
    assert bad.value.message == "an object of the specialty's fields"


def evaluated(calculations: list[Calculation]) -> dict[Hashable, Outcome]:
    """The outcomes of expression calculators, evaluated here as a worker would."""
    return {
        c.key: Outcome(c.calculator.expression.evaluate(dict(c.inputs)))
        for c in calculations
        if c.calculator.expression is not None
    }


@pytest.mark.parametrize(
    ("age", "sex", "risks", "score"),
    [
        (50, "male", {}, 0),
        (50, "female", {}, 1),
        (65, "male", {}, 1),
        (74, "male", {"hypertension": True}, 2),
        (75, "male", {}, 2),
        (80, "female", {"stroke_tia": True, "diabetes": True}, 6),
        (
            90,
            "female",
            {k: True for k in NO_RISK},
            9,
        ),
    ],
)
def test_cha2ds2_vasc_follows_the_published_points(
    age: int, sex: str, risks: dict[str, bool], score: int
) -> None:
    values = {**NO_RISK, **risks, "age_years": age, "sex": sex}
    calculation = due_calculation(CARDIAC, CARDIAC.calculators["cha2ds2_vasc"], values, {})
    assert calculation is not None
    [outcome] = evaluated([calculation]).values()
    assert result_of(CARDIAC, calculation, outcome) == score


def test_a_calculation_waits_for_all_inputs_and_repeats_only_when_they_change() -> None:
    bmi = ORTHO.calculators["bmi"]
    assert due_calculation(ORTHO, bmi, {"weight_kg": 70}, {}) is None
    due = due_calculation(ORTHO, bmi, {"weight_kg": 70, "height_cm": 175}, {})
    assert due is not None
    assert result_of(ORTHO, due, evaluated([due])[due.key]) == 22.9
    previous = {"bmi": dict(due.inputs)}
    assert due_calculation(ORTHO, bmi, {"weight_kg": 70, "height_cm": 175}, previous) is None
    assert due_calculation(ORTHO, bmi, {"weight_kg": 71, "height_cm": 175}, previous)


def test_rules_warn_refuse_or_skip() -> None:
    warnings = run_rules(CARDIAC, {"ejection_fraction": 25}, frozenset({"ejection_fraction"}))
    assert warnings == [
        {
            "rule": "cardiac.low_ejection_fraction",
            "message": "Ejection fraction below 30% - high-risk patient",
        }
    ]
    assert run_rules(CARDIAC, {"ejection_fraction": 25}, frozenset({"nyha_class"})) == []
    with pytest.raises(RuleFailed) as refused:
        run_rules(CARDIAC, {}, frozenset(), "cabg", History())
    assert (refused.value.code, refused.value.field) == (
        "VALIDATION_RULE_FAILED",
        "rule.cabg_requires_cath",
    )
    done = History(({"type": "catheterization", "data": {"outcome": "completed"}},))
    assert run_rules(CARDIAC, {}, frozenset(), "cabg", done) == []


def test_a_specialty_event_sees_only_earlier_events_of_its_plugin() -> None:
    admission = Admission(ID, ID, status="admitted")
    knee = {"joint": "knee", "laterality": "left"}
    first = capture.specialty_event(
        ORTHO, "admission", admission, "joint_replacement", knee, ID, AT, {}, {}, {}
    )
    for event in first.events:
        admission = _evolved(admission, event)
    with pytest.raises(RuleFailed):
        capture.specialty_event(
            ORTHO, "admission", admission, "joint_replacement", knee, ID, AT, {}, {}, {}
        )
    with pytest.raises(Invalid) as bad:
        capture.specialty_event(
            ORTHO, "visit", admission, "joint_replacement", knee, ID, AT, {}, {}, {}
        )
    assert bad.value.field == "type"


def _evolved(state: Admission, event: DomainEvent) -> Admission:
    return evolve(state, event)


@pytest.mark.parametrize(
    ("text", "values", "result"),
    [
        ("a and b", {"a": 0, "b": 2}, 0),
        ("a or b", {"a": 0, "b": 2}, 2),
        ("not a", {"a": False}, True),
        ("1 < a <= 3", {"a": 3}, True),
        ("max(a, 2) - min(a, 2)", {"a": 5}, 3),
        ("abs(-a) % 4", {"a": 10}, 2),
        ("a // 3 + -a", {"a": 7}, -5),
        ("'x' if a == 'y' else 'z'", {"a": "y"}, "x"),
    ],
)
def test_expressions_evaluate(text: str, values: dict[str, Any], result: Any) -> None:
    assert compile_expression(text).evaluate(values) == result


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("a / b", {"a": 1, "b": 0}),
        ("a * 3", {"a": "abc"}),
        ("((a ** 4) ** 4) ** 4", {"a": 1000}),
        ("a + 1", {}),
    ],
)
def test_evaluation_errors_are_contained(text: str, values: dict[str, Any]) -> None:
    with pytest.raises(EvaluationError):
        compile_expression(text).evaluate(values)


def test_age_in_whole_years() -> None:
    today = dt.date(2026, 3, 2)
    assert age_years(dt.date(1950, 3, 2), today) == 76
    assert age_years(dt.date(1950, 3, 3), today) == 75
    assert age_years(None, today) is None


def _pre_op() -> workflows.Checklist:
    [pre_op] = workflows.triggered(CARDIAC, {"admission": True})
    state = workflows.Checklist()
    for event in workflows.start(state, CARDIAC, pre_op, ID, "admission", ID):
        state = workflows.evolve(state, event)
    return state


def test_checklist_steps_and_approvers() -> None:
    state = _pre_op()
    assert state.status == "open" and len(state.steps) == 4
    nurse, doctor = frozenset({"NURSE"}), frozenset({"DOCTOR"})
    with pytest.raises(workflows.NotAnApprover):
        workflows.complete_step(state, "cardiology_clearance", "n", nurse, AT)
    with pytest.raises(NotFound):
        workflows.complete_step(state, "nope", "n", nurse, AT)
    with pytest.raises(workflows.NotAnApprover):
        workflows.complete_step(state, "consent_signed", "r", frozenset({"RECEPTIONIST"}), AT)
    for step, roles in (
        ("consent_signed", nurse),
        ("type_and_screen", nurse),
        ("cardiology_clearance", doctor),
    ):
        events = workflows.complete_step(state, step, "x", roles, AT)
        for event in events:
            state = workflows.evolve(state, event)
    assert state.status == "complete"
    with pytest.raises(Conflict):
        workflows.complete_step(state, "dental_clearance", "x", nurse, AT)


def test_a_started_checklist_is_not_started_again() -> None:
    [pre_op] = workflows.triggered(CARDIAC, {"admission": True})
    assert workflows.start(_pre_op(), CARDIAC, pre_op, ID, "admission", ID) == []


@pytest.mark.parametrize(
    ("rule", "planned", "outcome"),
    [
        (None, True, None),
        ("warn", True, "warning"),
        ("refuse", True, "refused"),
        ("refuse", False, "warning"),
    ],
)
def test_an_open_checklist_at_discharge_refuses_or_warns_as_its_rule_says(
    rule: str | None, planned: bool, outcome: str | None
) -> None:
    state = _pre_op()
    if outcome == "refused":
        with pytest.raises(Conflict) as e:
            workflows.at_discharge(state, rule, planned)
        assert e.value.code == "DISCHARGE_NOT_READY"
        assert "Cardiology clearance" in e.value.detail
        assert "Dental clearance" not in e.value.detail, "optional"
        return
    warning = workflows.at_discharge(state, rule, planned)
    if outcome is None:
        assert warning is None
    else:
        assert warning is not None and warning["rule"] == "cardiac.pre_op_checklist"


def test_a_discharge_closes_an_open_checklist_once_and_no_step_follows() -> None:
    state = _pre_op()
    [closed] = workflows.close(state, "discharged", AT)
    state = workflows.evolve(state, closed)
    assert state.status == "closed"
    assert workflows.close(state, "discharged", AT) == []
    with pytest.raises(Conflict) as e:
        workflows.complete_step(state, "consent_signed", "x", frozenset({"NURSE"}), AT)
    assert e.value.code == "CHECKLIST_CLOSED"


def test_tenant_specialties_record_only_a_change() -> None:
    tenant = tenancy.evolve_tenant(
        tenancy.Tenant(),
        tenancy.create_tenant(tenancy.Tenant(), ID, "C", "c", 30, 120)[0],
    )
    [enabled] = tenancy.enable_specialties(tenant, ["orthopedics", "cardiac", "cardiac"])
    tenant = tenancy.evolve_tenant(tenant, enabled)
    assert tenant.specialties == ("cardiac", "orthopedics")
    assert tenancy.enable_specialties(tenant, ["cardiac", "orthopedics"]) == []
    with pytest.raises(NotFound):
        tenancy.enable_specialties(tenancy.Tenant(), ["cardiac"])


def test_a_patients_score_follows_their_age_since_the_last_result() -> None:
    """The last result was computed at 64; the patient's data changes when they are 66: the
    score is computed again (65 and over counts a point), not left as it was."""
    risk = {
        "congestive_heart_failure": False,
        "hypertension": False,
        "diabetes": False,
        "stroke_tia": False,
        "vascular_disease": False,
    }
    at_64 = _with_results(
        lambda results: capture.patient_data(
            PLUGINS, ID, {}, {"cardiac": risk}, {"age_years": 64, "sex": "male"}, {}, results
        )
    )
    calculations: dict[str, Any] = {}
    for event in at_64.events:
        if isinstance(event, CalculationRecorded):
            calculations = with_calculation(calculations, event)
    assert [c["result"] for c in calculations.values()] == ["0"]
    later = _with_results(
        lambda results: capture.patient_data(
            PLUGINS,
            ID,
            {"cardiac": risk},
            {"cardiac": {"ejection_fraction": 55}},
            {"age_years": 66, "sex": "male"},
            calculations,
            results,
        )
    )
    [again] = [e for e in later.events if isinstance(e, CalculationRecorded)]
    assert (again.calculator, again.result) == ("cha2ds2_vasc", "1")


def _with_results(decide: Callable[[capture.Results], capture.Capture]) -> capture.Capture:
    """Decide, compute what it needs, decide again: what a command does across attempts."""
    pending = decide({}).pending
    decided = decide(evaluated(pending))
    assert not decided.pending
    return decided
