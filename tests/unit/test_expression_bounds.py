"""Hostile expressions and inputs: every number an evaluation meets is bounded (inputs,
arguments, intermediates), so an expression that passed the whitelist ends in microseconds
whatever it is given, or stops with an EvaluationError saying why."""

from __future__ import annotations

import ast
import time
from typing import Any

import pytest

from backend.specialties.expressions import (
    MAX_LENGTH,
    MAX_NODES,
    EvaluationError,
    compile_expression,
)

RUNAWAY_SECONDS = 1.0
"""What tells a bounded evaluation (microseconds) from a runaway one (9 ** 9 ** 9 computed:
minutes, or memory exhausted): a guard, not a speed figure, so generous enough that a loaded
machine's pauses never cross it (50 ms did: a CI run on two busy cores took 100 ms once)."""


@pytest.mark.parametrize(
    ("text", "values", "why"),
    [
        ("round(x, -1000000000)", {"x": 5}, "round takes a whole number of digits"),
        ("round(x, n)", {"x": 5, "n": -(10**9)}, "round takes a whole number of digits"),
        ("round(x, n)", {"x": 5, "n": 16}, "round takes a whole number of digits"),
        ("round(x, n)", {"x": 5, "n": 2.5}, "round takes a whole number of digits"),
        ("x + 1", {"x": 10**20}, "a number beyond 10^15"),
        ("x + 1", {"x": 10**4000}, "a number beyond 10^15"),
        ("x + 1", {"x": 1e300}, "beyond 10^15"),
        ("x + 1", {"x": float("inf")}, "beyond 10^15"),
        ("x + 1", {"x": float("nan")}, "beyond 10^15"),
        ("abs(x)", {"x": -(10**16)}, "a number beyond 10^15"),
        ("x * x * x", {"x": 10**9}, "a number beyond 10^15"),
        ("max(x, 1) * 1000000000 * 1000000000", {"x": 2}, "a number beyond 10^15"),
        ("x ** 4", {"x": 10**5}, "a number beyond 10^15"),
        ("9 ** 9 ** 9", {}, "range"),
        ("x ** x", {"x": 10**9}, "range"),
        ("x ** 0.5", {"x": -4}, "math domain error"),
        ("x ** -1", {"x": 0}, "math domain error"),
        ("exp(x)", {"x": 10**9}, "range"),
        ("exp(x)", {"x": 35}, "beyond 10^15"),
        ("log(x)", {"x": 0}, "math domain error"),
        ("log(x, 1)", {"x": 5}, "division by zero"),
        ("sqrt(x)", {"x": -1}, "math domain error"),
        ("x // 0.000000001", {"x": 10**9}, "beyond 10^15"),
        ("x / y", {"x": 1, "y": 0}, "division by zero"),
        ("x % y", {"x": 1, "y": False}, "modulo by zero"),
        ("x - 1", {"x": "a string"}, "'a string' is not a number"),
        ("min(x)", {"x": 3}, "not iterable"),
    ],
)
def test_hostile_inputs_stop_the_evaluation_with_a_reason(
    text: str, values: dict[str, Any], why: str
) -> None:
    started = time.perf_counter()
    with pytest.raises(EvaluationError) as stopped:
        compile_expression(text).evaluate(values)
    assert time.perf_counter() - started < RUNAWAY_SECONDS
    assert why in stopped.value.reason, stopped.value.reason


@pytest.mark.parametrize(
    ("text", "values", "result"),
    [
        ("x ** 2", {"x": 7}, 49),
        ("x ** 0.5", {"x": 2.25}, 1.5),
        ("x ** -1.2", {"x": 1}, 1.0),
        ("0.9938 ** x", {"x": 0}, 1.0),
        ("2 ** x", {"x": 10}, 1024.0),
        ("sqrt(x)", {"x": 81}, 9.0),
        ("round(exp(x), 6)", {"x": 1}, 2.718282),
        ("log(exp(x))", {"x": 3}, 3.0),
        ("log(x, 10)", {"x": 1000}, 2.9999999999999996),
        ("max(x, y, 3) - min(x, y)", {"x": 1, "y": 2}, 2),
    ],
)
def test_real_powers_and_the_math_functions(text: str, values: dict[str, Any], result: Any) -> None:
    value = compile_expression(text).evaluate(values)
    assert (value, type(value)) == (result, type(result))


def test_round_within_its_digits_still_rounds() -> None:
    expression = compile_expression("round(x, n)")
    assert expression.evaluate({"x": 1234.5678, "n": 2}) == 1234.57
    assert expression.evaluate({"x": 1234, "n": -2}) == 1200
    assert expression.evaluate({"x": 10**15, "n": -15}) == 10**15


def test_the_largest_allowed_expression_on_the_largest_inputs_ends_in_microseconds() -> None:
    """As many operations as the limits allow, each on numbers as large as allowed."""
    term = "x*999999999//999999999%1000000000-y"
    terms = [term] * 40
    while len(f"max({','.join(terms)})") > MAX_LENGTH or _parts(",".join(terms)) > MAX_NODES:
        terms.pop()
    expression = compile_expression(f"max({','.join(terms)})")
    assert _parts(expression.text) > MAX_NODES - 20
    started = time.perf_counter()
    for _ in range(100):
        expression.evaluate({"x": 999_999, "y": 10**15})
    assert (time.perf_counter() - started) / 100 < RUNAWAY_SECONDS / 20


def _parts(text: str) -> int:
    return sum(1 for _ in ast.walk(ast.parse(text, mode="eval")))
