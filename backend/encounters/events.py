"""Events of the visits (encounters) context, on the stream type "visit"."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from backend.kernel.events import DomainEvent, register


@register
@dataclass(frozen=True)
class VisitOpened(DomainEvent):
    """`appointment_id` is None for a walk-in."""

    visit_id: UUID
    patient_id: UUID
    practitioner_id: UUID
    appointment_id: UUID | None
    reason: str | None
    opened_at: dt.datetime


@register
@dataclass(frozen=True)
class VisitNoteDrafted(DomainEvent):
    """A full revision of the SOAP note (each revision replaces the previous one)."""

    visit_id: UUID
    revision: int
    subjective: str
    objective: str
    assessment: str
    plan: str


@register
@dataclass(frozen=True)
class BillableServiceAdded(DomainEvent):
    visit_id: UUID
    code: str
    description: str
    quantity: int
    unit_price: Decimal


@register
@dataclass(frozen=True)
class VisitSignedOff(DomainEvent):
    """The contract billing drafts an invoice from: each service is
    {"code": str, "description": str, "quantity": int, "unit_price": decimal string}."""

    visit_id: UUID
    patient_id: UUID
    practitioner_id: UUID
    appointment_id: UUID | None
    services: tuple[dict[str, Any], ...]


@register
@dataclass(frozen=True)
class AddendumAdded(DomainEvent):
    visit_id: UUID
    text: str
    author: str
    added_at: dt.datetime


@register
@dataclass(frozen=True)
class VitalsRecorded(DomainEvent):
    """`taken_at` is the clinical time of the measurement (also the event's occurred_at)."""

    visit_id: UUID
    taken_at: dt.datetime
    heart_rate: int | None
    systolic: int | None
    diastolic: int | None
    temperature_c: Decimal | None
    respiratory_rate: int | None
    spo2: int | None
    weight_kg: Decimal | None
    height_cm: Decimal | None


@register
@dataclass(frozen=True)
class PrescriptionIssued(DomainEvent):
    visit_id: UUID
    prescription_id: UUID
    medication: str
    dose: str
    route: str
    frequency: str
    duration_days: int | None
    prescriber: str


@register
@dataclass(frozen=True)
class LabOrdered(DomainEvent):
    visit_id: UUID
    order_id: UUID
    test_code: str
    test_name: str
    ordered_at: dt.datetime


@register
@dataclass(frozen=True)
class LabSpecimenCollected(DomainEvent):
    visit_id: UUID
    order_id: UUID
    collected_at: dt.datetime


@register
@dataclass(frozen=True)
class LabResultReported(DomainEvent):
    visit_id: UUID
    order_id: UUID
    value: str
    unit: str | None
    reference_range: str | None
    abnormal: bool
    comment: str | None
    reported_at: dt.datetime
