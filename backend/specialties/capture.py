"""Deciding what a write of specialty values records (pure): checked values, rule warnings (an
error rule raises), the plugin events and the calculations whose inputs changed.

The values a rule or calculator sees for one plugin are, from weakest to strongest: the
platform's core inputs (age_years, sex), the patient's specialty data, the stream's specialty
data, the fields of the stream's specialty events in the order recorded, then this write.

Calculators are not run here: a decision lists the calculations it needs (`pending`) until
their outcomes are given in `results`, which the calculator workers compute outside the
command's transaction (backend/specialties/service.py). Calculators run in dependency order, and
their results are values too: for the calculators that take them as inputs (one waits while
an input of it is pending) and for the rules, which run once no calculation is pending.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from backend.kernel.events import DomainEvent
from backend.specialties.events import (
    CalculationRecorded,
    SpecialtyDataRecorded,
    SpecialtyEventRecorded,
)
from backend.specialties.expressions import History
from backend.specialties.folding import HasSpecialty, merged_specialty_data
from backend.specialties.model import (
    Calculation,
    Outcome,
    Plugin,
    check_event_data,
    check_specialty_data,
    due_calculation,
    recorded_results,
    result_of,
    run_rules,
)
from backend.specialties.units import data_in_own_units, event_in_own_units

Results = Mapping[Hashable, Outcome]
"""Outcomes of calculations, by `Calculation.key`."""


@dataclass
class Capture:
    patient_id: UUID | None = None
    """Whose values these are: the key their events are sealed under."""
    events: list[DomainEvent] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    """The plugins (name -> version) the values were captured under."""
    pending: list[Calculation] = field(default_factory=list)
    """Calculations whose outcome is not in the results yet: nothing may be recorded until
    they are computed and the decision is taken again."""


def patient_data(
    plugins: Mapping[str, Plugin],
    patient_id: UUID,
    old_data: Mapping[str, Any],
    given: Mapping[str, Any],
    core: Mapping[str, Any],
    calculations: Mapping[str, Any],
    results: Results,
) -> Capture:
    """Specialty data `given` for a patient (on registration or a change), merged over
    `old_data`: only the plugins named are checked, and only their rules and calculators run.
    A calculation repeats when its inputs differ from those its last result (in
    `calculations`, as the patient folds them) was computed from: the platform's `core`
    inputs (age today, sex) included, so a birthday since the last result counts. Values in
    another unit are converted before (`extension.in_own_units`), as the patient merges them."""
    check_specialty_data(plugins, "patient", given, "specialty_data")
    new_data = merged_specialty_data(dict(old_data), dict(given))
    capture = Capture(patient_id)
    for name in given:
        plugin = plugins[name]
        before, after = old_data.get(name, {}), new_data.get(name, {})
        changed = frozenset(k for k in {*before, *after} if before.get(k) != after.get(k))
        capture.versions[name] = plugin.version
        _calculated_then_checked(capture, plugin, {**core, **after}, changed, calculations, results)
    return capture


def stream_data(
    plugins: Mapping[str, Plugin],
    target: str,
    state: HasSpecialty,
    data: Mapping[str, Any],
    core: Mapping[str, Any],
    patient: Mapping[str, Any],
    results: Results,
) -> Capture:
    """Specialty data given for a visit or an admission (when it opens, or changed later),
    merged over what it has: `SpecialtyDataRecorded` holds only the fields that change, a field
    given as null (or every field of a plugin given as null) as null, which removes it. Values
    given in another unit are recorded in their field's own. Rules run for the fields that
    change, and calculations whose inputs changed run again."""
    data = data_in_own_units(plugins, data)
    check_specialty_data(plugins, target, data, "specialty_data")
    capture = Capture(state.patient_id)
    for name, given in data.items():
        plugin = plugins[name]
        capture.versions[name] = plugin.version
        changes = _changes(state.specialty_data.get(name, {}), given)
        after = merged_specialty_data(state.specialty_data, {name: changes})
        given_now = {k: v for k, v in changes.items() if v is not None}
        merged = {**known_values(plugin.name, state, core, patient, after), **given_now}
        if changes:
            recorded = SpecialtyDataRecorded(name, plugin.version, changes, state.patient_id)
            capture.events.append(recorded)
        _calculated_then_checked(
            capture, plugin, merged, frozenset(changes), state.calculations, results
        )
    return capture


def _changes(current: Mapping[str, Any], given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fields `given` changes: new values, and None for each field it removes (a plugin
    given as None removes them all)."""
    wanted = dict.fromkeys(current) if given is None else given
    return {
        key: value
        for key, value in wanted.items()
        if current.get(key) != value and (value is not None or key in current)
    }


def specialty_event(
    plugin: Plugin,
    target: str,
    state: HasSpecialty,
    event_type: str,
    data: Mapping[str, Any],
    record_id: UUID,
    occurred_at: dt.datetime,
    core: Mapping[str, Any],
    patient: Mapping[str, Any],
    results: Results,
) -> Capture:
    """A plugin event type recorded on a visit or an admission; its rules see the events
    recorded before it (has_event, count_events)."""
    data = event_in_own_units(plugin, event_type, data)
    check_event_data(plugin, event_type, target, data)
    history = History(tuple(e for e in state.specialty_events if e["plugin"] == plugin.name))
    merged = {**known_values(plugin.name, state, core, patient), **data}
    capture = Capture(state.patient_id, versions={plugin.name: plugin.version})
    capture.events.append(
        SpecialtyEventRecorded(
            record_id,
            plugin.name,
            plugin.version,
            event_type,
            dict(data),
            occurred_at,
            state.patient_id,
        )
    )
    _calculated_then_checked(
        capture, plugin, merged, frozenset(data), state.calculations, results, event_type, history
    )
    return capture


def known_values(
    plugin: str,
    state: HasSpecialty,
    core: Mapping[str, Any],
    patient: Mapping[str, Any],
    stream_data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What the plugin's rules and calculators see on the stream (module docstring), with
    `stream_data` in place of the stream's specialty data when given (as a change leaves it)."""
    own = state.specialty_data if stream_data is None else stream_data
    values = {**core, **patient.get(plugin, {}), **own.get(plugin, {})}
    for recorded in state.specialty_events:
        if recorded["plugin"] == plugin:
            values.update({k: v for k, v in recorded["data"].items() if v is not None})
    return values


def _previous(plugin: str, calculations: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs of each of `plugin`'s calculators' last result."""
    return {
        entry["calculator"]: entry["inputs"]
        for entry in calculations.values()
        if entry["plugin"] == plugin
    }


def _calculated_then_checked(
    capture: Capture,
    plugin: Plugin,
    values: Mapping[str, Any],
    provided: frozenset[str],
    recorded: Mapping[str, Any],
    results: Results,
    event_type: str | None = None,
    history: History | None = None,
) -> None:
    """The plugin's due calculations, then (once none is pending) its rules triggered by what
    this write provides, a calculator's new result included."""
    waiting = len(capture.pending)
    known, fresh = _calculations(capture, plugin, values, recorded, results)
    if len(capture.pending) == waiting:
        capture.warnings += run_rules(plugin, known, provided | fresh, event_type, history)


def _calculations(
    capture: Capture,
    plugin: Plugin,
    values: Mapping[str, Any],
    recorded: Mapping[str, Any],
    results: Results,
) -> tuple[dict[str, Any], frozenset[str]]:
    """Each due calculation in dependency order: recorded when its outcome is in `results`,
    else pending. Returns the values with each calculator's result (this write's, else the
    latest recorded) and the ids of the calculators with a new result."""
    known = {**values, **recorded_results(plugin, recorded)}
    previous = _previous(plugin.name, recorded)
    fresh: set[str] = set()
    waiting: set[str] = set()
    for calc in plugin.calculators.values():
        if calc.inputs & waiting:
            waiting.add(calc.id)  # an input is being computed again: not its old result
            continue
        calculation = due_calculation(plugin, calc, known, previous)
        if calculation is None:
            continue
        outcome = results.get(calculation.key)
        if outcome is None:
            capture.pending.append(calculation)
            waiting.add(calc.id)
            continue
        result = result_of(plugin, calculation, outcome)
        inputs = dict(calculation.inputs)
        capture.events.append(
            CalculationRecorded(
                plugin.name, calc.id, calc.version, inputs, str(result), capture.patient_id
            )
        )
        known[calc.id] = result
        fresh.add(calc.id)
    return known, frozenset(fresh)
