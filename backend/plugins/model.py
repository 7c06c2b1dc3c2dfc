"""Loaded plugins and the checks they put on specialty values (pure: no I/O).

A `Plugin` is a checked manifest: typed fields (per target: patient, visit, admission), event
types with their fields, calculators and validation rules. The functions below validate
specialty data and event data against it, run its rules and compute its calculators.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.kernel.errors import Invalid
from backend.plugins.expressions import EvaluationError, Expression, History

CORE_INPUTS = frozenset({"age_years", "sex"})
"""Inputs the platform provides from the patient (their age in whole years and sex)."""


class RuleFailed(Invalid):
    """An error-severity validation rule refused the command."""

    code = "VALIDATION_RULE_FAILED"

    def __init__(self, rule_id: str, message: str) -> None:
        super().__init__(f"rule.{rule_id}", message)
        self.rule_id = rule_id


@dataclass(frozen=True)
class ValueSpec:
    type: str
    min: float | None = None
    max: float | None = None
    values: tuple[str, ...] = ()
    max_length: int = 1000
    required: bool = False

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> ValueSpec:
        return cls(
            item["type"],
            item.get("min"),
            item.get("max"),
            tuple(item.get("values", ())),
            item.get("max_length", 1000),
            item.get("required", False),
        )

    def problem(self, value: Any) -> str | None:
        """Why `value` does not fit (None when it fits; None itself always fits: unknown)."""
        if value is None:
            return None
        if self.type in ("integer", "number"):
            whole = self.type == "integer"
            if isinstance(value, bool) or not isinstance(value, int if whole else int | float):
                return "a whole number" if whole else "a number"
            if not math.isfinite(value):
                return "a finite number"
            if self.min is not None and value < self.min:
                return f"at least {_show(self.min)}"
            if self.max is not None and value > self.max:
                return f"at most {_show(self.max)}"
            return None
        if self.type == "boolean":
            return None if isinstance(value, bool) else "true or false"
        if self.type == "enum":
            return None if value in self.values else f"one of {', '.join(self.values)}"
        if self.type == "date":
            return None if _is_date(value) else "a date (YYYY-MM-DD)"
        if not isinstance(value, str):
            return "a string"
        return None if len(value) <= self.max_length else f"at most {self.max_length} characters"


def _show(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _is_date(value: Any) -> bool:
    try:
        return isinstance(value, str) and bool(dt.date.fromisoformat(value))
    except ValueError:
        return False


@dataclass(frozen=True)
class Calculator:
    id: str
    version: str
    inputs: frozenset[str]
    compute: Callable[[dict[str, Any]], Any]
    output: str


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    on_event: str | None
    on_field: str | None
    require: Expression
    message: str


@dataclass(frozen=True)
class Plugin:
    name: str
    version: str
    display_name: str
    manifest: dict[str, Any]
    fields: dict[str, ValueSpec]
    field_targets: dict[str, frozenset[str]]
    event_types: dict[str, dict[str, ValueSpec]]
    event_targets: dict[str, frozenset[str]]
    calculators: dict[str, Calculator] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()


def check_specialty_data(
    plugins: Mapping[str, Plugin], target: str, data: Mapping[str, Any], path: str
) -> None:
    """`data` is {plugin: {field: value}}; every plugin enabled, every field declared for the
    target and within its type (422 naming e.g. specialty_data.cardiac.ejection_fraction)."""
    for name, values in data.items():
        plugin = plugins.get(name)
        if plugin is None:
            raise Invalid(f"{path}.{name}", "specialty not enabled for this tenant")
        if not isinstance(values, dict):
            raise Invalid(f"{path}.{name}", "an object of the specialty's fields")
        for key, value in values.items():
            spec = plugin.fields.get(key)
            if spec is None or target not in plugin.field_targets[key]:
                raise Invalid(f"{path}.{name}.{key}", f"not a {name} field of a {target}")
            problem = spec.problem(value)
            if problem is not None:
                raise Invalid(f"{path}.{name}.{key}", f"must be {problem}")


def check_event_data(plugin: Plugin, event_type: str, target: str, data: Mapping[str, Any]) -> None:
    fields = plugin.event_types.get(event_type)
    if fields is None or target not in plugin.event_targets[event_type]:
        raise Invalid("type", f"not a {plugin.name} event type of a {target}")
    for key, value in data.items():
        spec = fields.get(key)
        if spec is None:
            raise Invalid(f"data.{key}", f"not a field of {event_type}")
        problem = spec.problem(value)
        if problem is not None:
            raise Invalid(f"data.{key}", f"must be {problem}")
    for key, spec in fields.items():
        if spec.required and data.get(key) is None:
            raise Invalid(f"data.{key}", "is required")


def run_rules(
    plugin: Plugin,
    values: Mapping[str, Any],
    provided: frozenset[str],
    event_type: str | None = None,
    history: History | None = None,
) -> list[dict[str, str]]:
    """Check the rules triggered by this write (its event type, or a field it provides).
    An error raises RuleFailed; warnings are returned as [{rule, message}]. A rule whose
    names are not all known yet is skipped."""
    warnings = []
    for rule in plugin.rules:
        triggered = (rule.on_event is not None and rule.on_event == event_type) or (
            rule.on_field is not None and rule.on_field in provided
        )
        if not triggered or any(values.get(n) is None for n in rule.require.names):
            continue
        try:
            holds = bool(rule.require.evaluate(values, history))
        except EvaluationError:
            continue
        if holds:
            continue
        if rule.severity == "error":
            raise RuleFailed(rule.id, rule.message)
        warnings.append({"rule": f"{plugin.name}.{rule.id}", "message": rule.message})
    return warnings


def calculate(
    plugin: Plugin, values: Mapping[str, Any], previous: Mapping[str, Any]
) -> list[tuple[Calculator, dict[str, Any], Any]]:
    """Each calculator whose inputs are all known and differ from those it last saw
    (`previous`: calculator id -> inputs), with its inputs and result."""
    results = []
    for calc in plugin.calculators.values():
        inputs = {name: values.get(name) for name in sorted(calc.inputs)}
        if any(v is None for v in inputs.values()) or previous.get(calc.id) == inputs:
            continue
        try:
            result = calc.compute(dict(inputs))
        except (EvaluationError, ArithmeticError, TypeError, ValueError, KeyError):
            continue
        if calc.output == "integer" and isinstance(result, float) and result.is_integer():
            result = int(result)
        results.append((calc, inputs, result))
    return results


def age_years(birth_date: dt.date | None, today: dt.date) -> int | None:
    if birth_date is None:
        return None
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - int(before_birthday)
