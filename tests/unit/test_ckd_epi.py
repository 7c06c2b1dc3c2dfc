"""A specialty with no Python: eGFR by CKD-EPI 2021 as an expression (real powers), its KDIGO
category computed from eGFR's result, and a rule on eGFR (tests/fixtures/nephrology)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import pytest

from backend.specialties import capture
from backend.specialties.events import CalculationRecorded
from backend.specialties.loading import load_plugin
from backend.specialties.model import Outcome

PATIENT_ID = UUID(int=1)
NEPHROLOGY = load_plugin(Path(__file__).resolve().parents[1] / "fixtures" / "nephrology")
EGFR = NEPHROLOGY.calculators["egfr"].expression


def published_equation(creatinine: float, age: int, female: bool) -> float:
    """CKD-EPI 2021 as the National Kidney Foundation writes it, term by term."""
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    ratio = creatinine / kappa
    sex_factor = 1.012 if female else 1.0
    return 142 * min(ratio, 1) ** alpha * max(ratio, 1) ** -1.2 * 0.9938**age * sex_factor


def test_the_published_worked_example() -> None:
    """A 55-year-old man with a serum creatinine of 1.2 mg/dL: 71 mL/min/1.73 m2 (the
    National Kidney Foundation's eGFR calculator)."""
    assert EGFR is not None
    assert EGFR.evaluate({"creatinine_mg_dl": 1.2, "age_years": 55, "sex": "male"}) == 71


@pytest.mark.parametrize("female", [True, False])
@pytest.mark.parametrize("creatinine", [0.4, 0.69, 0.7, 0.85, 0.9, 1.4, 3.0, 8.5])
@pytest.mark.parametrize("age", [18, 40, 67, 95])
def test_the_expression_is_the_equation_on_both_sides_of_its_knot(
    creatinine: float, age: int, female: bool
) -> None:
    assert EGFR is not None
    sex = "female" if female else "male"
    value = EGFR.evaluate({"creatinine_mg_dl": creatinine, "age_years": age, "sex": sex})
    assert value == round(published_equation(creatinine, age, female))


def test_the_category_follows_egfr_and_the_rule_reads_its_result() -> None:
    """Decided three times: eGFR is computed, then its category, then the rule warns."""
    core = {"age_years": 70, "sex": "male"}

    def register(results: capture.Results) -> capture.Capture:
        data = {"nephrology": {"creatinine_mg_dl": 4.0}}
        return capture.patient_data(
            {"nephrology": NEPHROLOGY}, PATIENT_ID, {}, data, core, {}, results
        )

    decided, rounds = _with_workers(register)
    recorded = {
        e.calculator: e.result for e in decided.events if isinstance(e, CalculationRecorded)
    }
    egfr = round(published_equation(4.0, 70, female=False))
    assert (recorded, rounds) == ({"egfr": str(egfr), "ckd_stage": "G4"}, 3)
    assert [w["rule"] for w in decided.warnings] == ["nephrology.egfr_below_30"]


def _with_workers(
    decide: Callable[[capture.Results], capture.Capture],
) -> tuple[capture.Capture, int]:
    """Decide until nothing is pending, computing each round as the workers would."""
    results: dict[object, Outcome] = {}
    for rounds in range(1, 10):
        decided = decide(results)
        if not decided.pending:
            return decided, rounds
        for calculation in decided.pending:
            expression = calculation.calculator.expression
            assert expression is not None
            results[calculation.key] = Outcome(expression.evaluate(dict(calculation.inputs)))
    raise AssertionError("never settled")
