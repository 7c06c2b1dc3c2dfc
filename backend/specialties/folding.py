"""How a visit or an admission folds the plugin events recorded on its stream (pure).

The folded values are JSON-native (strings for ids and times) so a read model row folds to
exactly the state the command side sees.
"""

from __future__ import annotations

from typing import Any, Protocol
from uuid import UUID

from backend.kernel.errors import Invalid
from backend.kernel.events import DomainEvent
from backend.specialties.events import (
    CalculationRecorded,
    SpecialtyDataRecorded,
    SpecialtyEventRecorded,
)


class HasSpecialty(Protocol):
    @property
    def patient_id(self) -> UUID | None: ...

    @property
    def specialty_data(self) -> dict[str, Any]: ...

    @property
    def specialty_events(self) -> tuple[dict[str, Any], ...]: ...

    @property
    def calculations(self) -> dict[str, Any]: ...


def merged_specialty_data(
    current: dict[str, Any], given: dict[str, Any], path: str = "specialty_data"
) -> dict[str, Any]:
    """`given` merged over `current`, per plugin and field: a field given replaces that field
    alone, a field given as null is removed, a plugin given as null loses all its fields; every
    plugin and field not named is kept as it was. A plugin left without fields is dropped."""
    merged = {name: dict(values) for name, values in current.items()}
    for name, values in given.items():
        if values is None:
            merged.pop(name, None)
            continue
        if not isinstance(values, dict):
            raise Invalid(f"{path}.{name}", "an object of the specialty's fields")
        fields = merged.get(name, {})
        fields.update(values)
        merged[name] = {key: value for key, value in fields.items() if value is not None}
        if not merged[name]:
            del merged[name]
    return merged


def specialty_changes(state: HasSpecialty, event: DomainEvent) -> dict[str, Any]:
    """The state fields that change (for dataclasses.replace); {} for any other event."""
    match event:
        case SpecialtyDataRecorded():
            changed = {event.plugin: event.data}
            return {"specialty_data": merged_specialty_data(state.specialty_data, changed)}
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
