"""Rules and calculators fail closed (pure): a rule that cannot be evaluated refuses (error)
or warns with its reason (warning); a calculation gives a result of its declared type or
refuses the command naming the calculator."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from backend.specialties.expressions import compile_expression
from backend.specialties.loading import load_plugin
from backend.specialties.model import (
    Calculation,
    CalculationFailed,
    Calculator,
    Outcome,
    Plugin,
    Rule,
    RuleNotEvaluated,
    result_of,
    run_rules,
)
from backend.specialties.registry import DEFAULT_DIR

CARDIAC = load_plugin(DEFAULT_DIR / "cardiac")


def with_rule(severity: str) -> Plugin:
    rule = Rule(
        "ef_sane",
        severity,
        None,
        "ejection_fraction",
        compile_expression("ejection_fraction * 1000000000 * 1000000000 > 0"),
        "Check the ejection fraction",
    )
    return dataclasses.replace(CARDIAC, rules=(rule,))


def test_an_error_rule_that_cannot_be_evaluated_refuses() -> None:
    with pytest.raises(RuleNotEvaluated) as refused:
        run_rules(with_rule("error"), {"ejection_fraction": 40}, frozenset({"ejection_fraction"}))
    failure = refused.value
    assert (failure.status, failure.code, failure.field) == (
        422,
        "VALIDATION_RULE_NOT_EVALUATED",
        "rule.ef_sane",
    )
    assert (failure.plugin, failure.plugin_version) == ("cardiac", "1.2.0")
    assert "a number beyond 10^15" in failure.message


def test_a_warning_rule_that_cannot_be_evaluated_warns_with_its_reason() -> None:
    [warning] = run_rules(
        with_rule("warning"), {"ejection_fraction": 40}, frozenset({"ejection_fraction"})
    )
    assert warning == {
        "rule": "cardiac.ef_sane",
        "message": "Check the ejection fraction",
        "not_evaluated": "a number beyond 10^15",
    }


def calculation(output: str) -> Calculation:
    calculator = Calculator("score", "2.0", frozenset({"a"}), output)
    return Calculation("cardiac", "1.2.0", calculator, (("a", 1),))


@pytest.mark.parametrize(
    ("output", "value", "result"),
    [
        ("integer", 7, 7),
        ("integer", 7.0, 7),
        ("number", 22.9, 22.9),
        ("number", 3, 3),
        ("string", "obese", "obese"),
    ],
)
def test_a_result_of_the_declared_type_is_kept(output: str, value: Any, result: Any) -> None:
    kept = result_of(CARDIAC, calculation(output), Outcome(value))
    assert (kept, type(kept)) == (result, type(result))


@pytest.mark.parametrize(
    ("output", "outcome", "why"),
    [
        ("number", Outcome(None), "returned None, not a number"),
        ("number", Outcome("not-a-number"), "returned 'not-a-number', not a number"),
        ("number", Outcome(True), "returned True, not a number"),
        ("number", Outcome(float("nan")), "returned nan, out of range"),
        ("number", Outcome(10**16), "returned 10000000000000000, out of range"),
        ("integer", Outcome(10**400), "returned a long int, out of range"),
        ("integer", Outcome(2.5), "returned 2.5, not a whole number"),
        ("string", Outcome(3), "returned 3, not a string"),
        ("string", Outcome("x" * 201), "returned a string over 200 characters"),
        ("number", Outcome(failure="ValueError: boom"), "ValueError: boom"),
    ],
)
def test_a_failed_or_mistyped_result_refuses_naming_the_calculator(
    output: str, outcome: Outcome, why: str
) -> None:
    with pytest.raises(CalculationFailed) as refused:
        result_of(CARDIAC, calculation(output), outcome)
    failure = refused.value
    assert (failure.code, failure.field) == ("CALCULATION_FAILED", "calculator.cardiac.score")
    assert failure.message == f"cardiac.score 2.0 gave no result: {why}"
    assert (failure.plugin, failure.plugin_version) == ("cardiac", "1.2.0")
