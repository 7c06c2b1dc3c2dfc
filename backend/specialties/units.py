"""Values given in another unit than their field's own (pure).

A number field declares the unit it is recorded in (`unit`) and may declare other units a value
may be given in (`units`), each with an expression over `value` converting it to the field's own
unit: HbA1c recorded in mmol/mol and given in % (NGSP), creatinine recorded in mg/dL and given
in µmol/L. A value given as `{"value": 7.0, "unit": "%"}` is converted before it is checked
against the field's range and recorded, so what is stored, and what rules and calculators read,
is always in the field's own unit: a formula never meets two units for one field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backend.kernel.errors import Invalid
from backend.specialties.expressions import EvaluationError
from backend.specialties.model import Plugin, ValueSpec

GIVEN_IN_A_UNIT = frozenset({"value", "unit"})


def in_own_unit(spec: ValueSpec, given: Any, path: str) -> Any:
    """`given` in the field's own unit: converted when it is {"value", "unit"}, else as it is
    (its type is checked later). Invalid names `path` (or its .unit or .value)."""
    if not isinstance(given, dict):
        return given
    if set(given) != GIVEN_IN_A_UNIT:
        raise Invalid(path, 'a value, or {"value": <number>, "unit": "<unit>"}')
    unit, value = given["unit"], given["value"]
    accepted = [spec.unit, *spec.conversions] if spec.unit is not None else []
    if unit not in accepted:
        units = ", ".join(str(u) for u in accepted)
        raise Invalid(f"{path}.unit", f"one of {units}" if units else "this field takes no unit")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(f"{path}.value", "must be a number")
    if unit == spec.unit:
        return value
    try:
        converted = spec.conversions[unit].evaluate({"value": value})
    except EvaluationError as e:
        raise Invalid(f"{path}.value", f"cannot be converted from {unit}: {e.reason}") from e
    problem = spec.problem(converted)
    if problem is not None:
        shown = f"{value:g} {unit} is {converted:g} {spec.unit}"
        raise Invalid(path, f"must be {problem} {spec.unit} ({shown})")
    return converted


def data_in_own_units(
    plugins: Mapping[str, Plugin], data: Mapping[str, Any], path: str = "specialty_data"
) -> dict[str, Any]:
    """Specialty data ({plugin: {field: value}}) with each value given in another unit
    converted; anything it cannot place (a plugin not enabled, an unknown field) is left as
    given for the checks that name it."""
    converted: dict[str, Any] = {}
    for name, values in data.items():
        plugin = plugins.get(name)
        if plugin is None or not isinstance(values, dict):
            converted[name] = values
            continue
        converted[name] = {
            key: in_own_unit(plugin.fields[key], value, f"{path}.{name}.{key}")
            if key in plugin.fields
            else value
            for key, value in values.items()
        }
    return converted


def event_in_own_units(plugin: Plugin, event_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """A plugin event's data with each value given in another unit converted."""
    fields = plugin.event_types.get(event_type, {})
    return {
        key: in_own_unit(fields[key], value, f"data.{key}") if key in fields else value
        for key, value in data.items()
    }
