"""Loaded plugins and the checks they put on specialty values (pure: no I/O).

A `Plugin` is a checked manifest: typed fields (per target: patient, visit, admission), event
types with their fields, calculators and validation rules. The functions below validate
specialty data and event data against it, run its rules and compute its calculators.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.kernel.errors import Invalid
from backend.specialties.expressions import MAX_RESULT, EvaluationError, Expression, History
from backend.specialties.recalls import Recall

CORE_INPUTS = frozenset({"age_years", "sex"})
"""Inputs the platform provides from the patient (their age in whole years and sex)."""


MAX_TEXT_RESULT = 200
"""The longest text a calculator declared `output: string` may return."""


class RuleFailed(Invalid):
    """An error-severity validation rule refused the command."""

    code = "VALIDATION_RULE_FAILED"

    def __init__(self, rule_id: str, message: str) -> None:
        super().__init__(f"rule.{rule_id}", message)
        self.rule_id = rule_id


class PluginFailure(Invalid):
    """A plugin's rule or calculator could not give an answer, so the command is refused
    (fail closed). Names the plugin and version for the log."""

    def __init__(self, plugin: Plugin, field: str, message: str) -> None:
        super().__init__(field, message)
        self.plugin = plugin.name
        self.plugin_version = plugin.version


class RuleNotEvaluated(PluginFailure):
    code = "VALIDATION_RULE_NOT_EVALUATED"


class CalculationFailed(PluginFailure):
    code = "CALCULATION_FAILED"


@dataclass(frozen=True)
class ValueSpec:
    type: str
    min: float | None = None
    max: float | None = None
    values: tuple[str, ...] = ()
    max_length: int = 1000
    required: bool = False
    unit: str | None = None
    conversions: Mapping[str, Expression] = field(default_factory=dict)
    """Other units a value may be given in -> the expression over `value` that converts it to
    `unit` (backend/specialties/units.py)."""

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> ValueSpec:
        return cls(
            item["type"],
            item.get("min"),
            item.get("max"),
            tuple(item.get("values", ())),
            item.get("max_length", 1000),
            item.get("required", False),
            item.get("unit"),
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
class PluginFunction:
    """A function of the plugin's functions.py, as a calculator worker runs it: the module's
    source is the text read when the plugin loaded, so the code that runs is always the code
    of the version serving (also when a reload keeps the last good version)."""

    module: str
    name: str
    source: str


@dataclass(frozen=True)
class Calculator:
    """A calculator computes from `expression` or, when that is None, `function`."""

    id: str
    version: str
    inputs: frozenset[str]
    output: str
    expression: Expression | None = None
    function: PluginFunction | None = None


@dataclass(frozen=True)
class Calculation:
    """One run of a calculator that a command needs; the calculator workers do it outside
    the command's transaction (backend/specialties/calculators.py)."""

    plugin: str
    plugin_version: str
    calculator: Calculator
    inputs: tuple[tuple[str, Any], ...]

    @property
    def key(self) -> tuple[Any, ...]:
        """What its result depends on (the results of a command's attempts are kept by it)."""
        calc = self.calculator
        return (self.plugin, self.plugin_version, calc.id, calc.version, self.inputs)

    @property
    def name(self) -> str:
        return f"{self.plugin}.{self.calculator.id}"


@dataclass(frozen=True)
class Outcome:
    """What a calculation gave: a value, or why it has none (`failure`)."""

    value: Any = None
    failure: str | None = None


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
    recalls: tuple[Recall, ...] = ()


def check_specialty_data(
    plugins: Mapping[str, Plugin], target: str, data: Mapping[str, Any], path: str
) -> None:
    """`data` is {plugin: {field: value}}; every plugin enabled, every field declared for the
    target and within its type (422 naming e.g. specialty_data.cardiac.ejection_fraction).
    Null (a plugin's or a field's) removes what it names, so it always fits."""
    for name, values in data.items():
        plugin = plugins.get(name)
        if plugin is None:
            raise Invalid(f"{path}.{name}", "specialty not enabled for this tenant")
        if values is None:
            continue
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
    names are not all known yet is skipped. A rule that cannot be evaluated on these values
    fails closed: an error rule raises RuleNotEvaluated, a warning rule is returned with its
    reason in `not_evaluated`."""
    warnings = []
    for rule in plugin.rules:
        triggered = (rule.on_event is not None and rule.on_event == event_type) or (
            rule.on_field is not None and rule.on_field in provided
        )
        if not triggered or any(values.get(n) is None for n in rule.require.names):
            continue
        name = f"{plugin.name}.{rule.id}"
        try:
            holds = bool(rule.require.evaluate(values, history))
        except EvaluationError as e:
            if rule.severity == "error":
                why = f"could not be evaluated, so the command is refused: {e.reason}"
                raise RuleNotEvaluated(plugin, f"rule.{rule.id}", why) from e
            warnings.append({"rule": name, "message": rule.message, "not_evaluated": e.reason})
            continue
        if holds:
            continue
        if rule.severity == "error":
            raise RuleFailed(rule.id, rule.message)
        warnings.append({"rule": name, "message": rule.message})
    return warnings


def due_calculation(
    plugin: Plugin, calc: Calculator, values: Mapping[str, Any], previous: Mapping[str, Any]
) -> Calculation | None:
    """The calculation of `calc` if it is due: all its inputs are known and they differ from
    those its last result was computed from (`previous`: calculator id -> inputs)."""
    inputs = {name: values.get(name) for name in sorted(calc.inputs)}
    if any(v is None for v in inputs.values()) or previous.get(calc.id) == inputs:
        return None
    return Calculation(plugin.name, plugin.version, calc, tuple(inputs.items()))


def recorded_results(plugin: Plugin, calculations: Mapping[str, Any]) -> dict[str, Any]:
    """The latest recorded result of each of the plugin's calculators, as a value of its
    output type (results are recorded as text); one that does not read as such is unknown."""
    results = {}
    for calc in plugin.calculators.values():
        entry = calculations.get(f"{plugin.name}.{calc.id}")
        if entry is None:
            continue
        text = entry["result"]
        try:
            value = {"integer": int, "number": float}.get(calc.output, str)(text)
        except ValueError:
            continue
        if _output_problem(calc.output, value) is None:
            results[calc.id] = value
    return results


def result_of(plugin: Plugin, calculation: Calculation, outcome: Outcome) -> Any:
    """The calculation's result, of the calculator's declared output type; CalculationFailed
    (naming the calculator and why) when it failed or returned something else."""
    calc = calculation.calculator
    problem = outcome.failure or _output_problem(calc.output, outcome.value)
    if problem is not None:
        message = f"{calculation.name} {calc.version} gave no result: {problem}"
        raise CalculationFailed(plugin, f"calculator.{calculation.name}", message)
    value = outcome.value
    return int(value) if calc.output == "integer" else value


def _output_problem(output: str, value: Any) -> str | None:
    shown = repr(value) if len(repr(value)) <= 40 else f"a long {type(value).__name__}"
    if output == "string":
        if not isinstance(value, str):
            return f"returned {shown}, not a string"
        return (
            None
            if len(value) <= MAX_TEXT_RESULT
            else f"returned a string over {MAX_TEXT_RESULT} characters"
        )
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"returned {shown}, not a number"
    if (isinstance(value, float) and not math.isfinite(value)) or abs(value) > MAX_RESULT:
        return f"returned {shown}, out of range"
    if output == "integer" and not float(value).is_integer():
        return f"returned {shown}, not a whole number"
    return None


def age_years(birth_date: dt.date | None, today: dt.date) -> int | None:
    if birth_date is None:
        return None
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - int(before_birthday)
