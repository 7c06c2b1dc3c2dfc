"""Events the plugins add to existing streams (patient, visit, admission).

They are generic: the plugin and its version name what the values mean, so one event type
serves every specialty, and a reader can tell which manifest version captured a value.

The values are health data about a patient, so they are sealed under the patient's key
(`personal`, `subject`: backend/privacy/sealing.py) and read as redacted once the patient is
erased. `patient_id` names that key; events recorded before it was added have none and were
stored in the clear.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

from backend.kernel.events import DomainEvent, register


@register
@dataclass(frozen=True)
class SpecialtyDataRecorded(DomainEvent):
    """On a visit or admission stream: the plugin's fields that changed, merged over earlier
    ones (a field whose value is null is removed)."""

    personal: ClassVar[tuple[str, ...]] = ("data",)
    subject: ClassVar[str] = "patient_id"

    plugin: str
    plugin_version: str
    data: dict[str, Any]
    patient_id: UUID | None = None


@register
@dataclass(frozen=True)
class SpecialtyEventRecorded(DomainEvent):
    """A plugin event type (e.g. cardiac catheterization) on a visit or admission stream.
    `occurred_at` is its clinical time (also the stored event's valid time)."""

    personal: ClassVar[tuple[str, ...]] = ("data",)
    subject: ClassVar[str] = "patient_id"

    record_id: UUID
    plugin: str
    plugin_version: str
    type: str
    data: dict[str, Any]
    occurred_at: dt.datetime
    patient_id: UUID | None = None


@register
@dataclass(frozen=True)
class CalculationRecorded(DomainEvent):
    """A calculator's result for the inputs it saw; `result` is its JSON value as text."""

    personal: ClassVar[tuple[str, ...]] = ("inputs", "result")
    subject: ClassVar[str] = "patient_id"

    plugin: str
    calculator: str
    version: str
    inputs: dict[str, Any]
    result: str
    patient_id: UUID | None = None


@register
@dataclass(frozen=True)
class ChecklistStarted(DomainEvent):
    """On a checklist stream: a plugin workflow started for an admission or a visit. Each step
    is {id, type, label, required, approvers, done, by, at}."""

    checklist_id: UUID
    plugin: str
    plugin_version: str
    workflow: str
    name: str
    patient_id: UUID
    subject_type: str
    subject_id: UUID
    steps: tuple[dict[str, Any], ...]


@register
@dataclass(frozen=True)
class ChecklistStepCompleted(DomainEvent):
    """A checkbox ticked or an approval given, by `by` (the actor)."""

    checklist_id: UUID
    step: str
    by: str
    completed_at: dt.datetime


@register
@dataclass(frozen=True)
class ChecklistCompleted(DomainEvent):
    """Every required step is done."""

    checklist_id: UUID


@register
@dataclass(frozen=True)
class ChecklistClosed(DomainEvent):
    """An open checklist ended with its subject (an admission's discharge): its steps not
    done stay not done."""

    checklist_id: UUID
    reason: str
    closed_at: dt.datetime
