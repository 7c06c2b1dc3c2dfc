"""Deciding what a write of specialty values records (pure): checked values, rule warnings (an
error rule raises), the plugin events and the calculations whose inputs changed.

The values a rule or calculator sees for one plugin are, from weakest to strongest: the
platform's core inputs (age_years, sex), the patient's specialty data, the stream's specialty
data, the fields of the stream's specialty events in the order recorded, then this write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from backend.kernel.events import DomainEvent
from backend.plugins.events import (
    CalculationRecorded,
    SpecialtyDataRecorded,
    SpecialtyEventRecorded,
)
from backend.plugins.expressions import History
from backend.plugins.folding import HasSpecialty
from backend.plugins.model import (
    Plugin,
    calculate,
    check_event_data,
    check_specialty_data,
    run_rules,
)


@dataclass
class Capture:
    events: list[DomainEvent] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    """The plugins (name -> version) the values were captured under."""


def patient_data(
    plugins: Mapping[str, Plugin],
    old_data: Mapping[str, Any],
    new_data: Mapping[str, Any],
    core: Mapping[str, Any],
    calculations: Mapping[str, Any],
) -> Capture:
    """A patient's specialty data replaced by `new_data` (on registration or a change). A
    calculation repeats when its inputs differ from those its last result (in `calculations`,
    as the patient folds them) was computed from: the platform's `core` inputs (age today, sex)
    included, so a birthday since the last result counts."""
    check_specialty_data(plugins, "patient", new_data, "specialty_data")
    capture = Capture()
    for name, values in new_data.items():
        plugin = plugins[name]
        before = old_data.get(name, {})
        changed = frozenset(k for k, v in values.items() if before.get(k) != v)
        capture.versions[name] = plugin.version
        merged = {**core, **values}
        capture.warnings += run_rules(plugin, merged, changed)
        capture.events += _calculations(plugin, merged, _previous(name, calculations))
    return capture


def stream_data(
    plugins: Mapping[str, Plugin],
    target: str,
    state: HasSpecialty,
    data: Mapping[str, Any],
    core: Mapping[str, Any],
    patient: Mapping[str, Any],
) -> Capture:
    """Specialty data given for a visit or an admission (merged over what it had)."""
    check_specialty_data(plugins, target, data, "specialty_data")
    capture = Capture()
    for name, values in data.items():
        plugin = plugins[name]
        capture.versions[name] = plugin.version
        merged = {**known_values(plugin.name, state, core, patient), **values}
        capture.warnings += run_rules(plugin, merged, frozenset(values))
        capture.events.append(SpecialtyDataRecorded(name, plugin.version, dict(values)))
        capture.events += _calculations(plugin, merged, _previous(plugin.name, state.calculations))
    return capture


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
) -> Capture:
    """A plugin event type recorded on a visit or an admission; its rules see the events
    recorded before it (has_event, count_events)."""
    check_event_data(plugin, event_type, target, data)
    history = History(tuple(e for e in state.specialty_events if e["plugin"] == plugin.name))
    merged = {**known_values(plugin.name, state, core, patient), **data}
    capture = Capture(versions={plugin.name: plugin.version})
    capture.warnings = run_rules(plugin, merged, frozenset(data), event_type, history)
    capture.events.append(
        SpecialtyEventRecorded(
            record_id, plugin.name, plugin.version, event_type, dict(data), occurred_at
        )
    )
    capture.events += _calculations(plugin, merged, _previous(plugin.name, state.calculations))
    return capture


def known_values(
    plugin: str, state: HasSpecialty, core: Mapping[str, Any], patient: Mapping[str, Any]
) -> dict[str, Any]:
    values = {**core, **patient.get(plugin, {}), **state.specialty_data.get(plugin, {})}
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


def _calculations(
    plugin: Plugin, values: Mapping[str, Any], previous: Mapping[str, Any]
) -> list[DomainEvent]:
    return [
        CalculationRecorded(plugin.name, calc.id, calc.version, inputs, str(result))
        for calc, inputs, result in calculate(plugin, values, previous)
    ]
