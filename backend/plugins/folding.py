"""How a visit or an admission folds the plugin events recorded on its stream (pure).

The folded values are JSON-native (strings for ids and times) so a read model row folds to
exactly the state the command side sees.
"""

from __future__ import annotations

from typing import Any, Protocol

from backend.kernel.events import DomainEvent
from backend.plugins.events import (
    CalculationRecorded,
    SpecialtyDataRecorded,
    SpecialtyEventRecorded,
)


class HasSpecialty(Protocol):
    @property
    def specialty_data(self) -> dict[str, Any]: ...

    @property
    def specialty_events(self) -> tuple[dict[str, Any], ...]: ...

    @property
    def calculations(self) -> dict[str, Any]: ...


def specialty_changes(state: HasSpecialty, event: DomainEvent) -> dict[str, Any]:
    """The state fields that change (for dataclasses.replace); {} for any other event."""
    match event:
        case SpecialtyDataRecorded():
            merged = {**state.specialty_data.get(event.plugin, {}), **event.data}
            return {"specialty_data": {**state.specialty_data, event.plugin: merged}}
        case SpecialtyEventRecorded():
            recorded = {
                "id": str(event.record_id),
                "plugin": event.plugin,
                "plugin_version": event.plugin_version,
                "type": event.type,
                "data": event.data,
                "occurred_at": event.occurred_at.isoformat(),
            }
            return {"specialty_events": (*state.specialty_events, recorded)}
        case CalculationRecorded():
            return {"calculations": with_calculation(state.calculations, event)}
    return {}


def with_calculation(calculations: dict[str, Any], event: CalculationRecorded) -> dict[str, Any]:
    """The latest result per calculator, keyed "<plugin>.<calculator>"."""
    key = f"{event.plugin}.{event.calculator}"
    entry = {
        "plugin": event.plugin,
        "calculator": event.calculator,
        "version": event.version,
        "inputs": event.inputs,
        "result": event.result,
    }
    return {**calculations, key: entry}
