"""A visit's specialty data changed after it opened (capture.stream_data on a visit that has
data): only what changes is recorded, null removes, and the fold agrees."""

from __future__ import annotations

from typing import Any

from backend.specialties import capture
from backend.specialties.events import CalculationRecorded, SpecialtyDataRecorded
from backend.specialties.loading import load_plugin
from backend.specialties.model import Outcome
from backend.specialties.registry import DEFAULT_DIR
from backend.visits.model import evolve
from backend.visits.state import Visit

PLUGINS = {name: load_plugin(DEFAULT_DIR / name) for name in ("diabetes", "cardiac")}
CORE = {"age_years": 70, "sex": "male"}


def changed(visit: Visit, given: dict[str, Any]) -> tuple[Visit, list[Any]]:
    """The visit after the change, and the events it recorded (calculations computed)."""
    results: dict[object, Outcome] = {}
    for _ in range(5):
        decided = capture.stream_data(PLUGINS, "visit", visit, given, CORE, {}, results)
        if not decided.pending:
            break
        for calculation in decided.pending:
            expression = calculation.calculator.expression
            assert expression is not None
            results[calculation.key] = Outcome(expression.evaluate(dict(calculation.inputs)))
    for event in decided.events:
        visit = evolve(visit, event)
    return visit, decided.events


def test_only_what_changes_is_recorded_and_null_removes() -> None:
    visit, _ = changed(
        Visit(status="open"),
        {"diabetes": {"hba1c": 58, "creatinine": 1.0}, "cardiac": {"nyha_class": "II"}},
    )
    visit, events = changed(visit, {"diabetes": {"hba1c": 58, "creatinine": None}})
    assert [e.data for e in events if isinstance(e, SpecialtyDataRecorded)] == [
        {"creatinine": None}
    ]
    assert visit.specialty_data == {"diabetes": {"hba1c": 58}, "cardiac": {"nyha_class": "II"}}

    visit, events = changed(visit, {"cardiac": None, "diabetes": {"hba1c": 58}})
    assert [e.data for e in events] == [{"nyha_class": None}]
    assert visit.specialty_data == {"diabetes": {"hba1c": 58}}

    _, events = changed(visit, {"diabetes": {"hba1c": 58, "creatinine": None}})
    assert events == [], "nothing changes: nothing to record"


def test_a_changed_input_runs_its_calculator_again() -> None:
    visit, events = changed(Visit(status="open"), {"diabetes": {"creatinine": 1.0}})
    [first] = [e for e in events if isinstance(e, CalculationRecorded)]
    visit, events = changed(visit, {"diabetes": {"creatinine": 3.0}})
    [again] = [e for e in events if isinstance(e, CalculationRecorded)]
    assert (first.inputs["creatinine"], again.inputs["creatinine"]) == (1.0, 3.0)
    assert int(again.result) < 30 < int(first.result)
    assert visit.calculations["diabetes.egfr"]["result"] == again.result
