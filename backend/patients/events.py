"""Events of the patients context."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

from backend.kernel.events import DomainEvent, register


@register
@dataclass(frozen=True)
class PatientRegistered(DomainEvent):
    personal: ClassVar[tuple[str, ...]] = (
        "given_name",
        "family_name",
        "birth_date",
        "phone",
        "email",
    )
    subject: ClassVar[str] = "patient_id"

    patient_id: UUID
    given_name: str
    family_name: str
    birth_date: dt.date
    sex: str
    phone: str | None
    email: str | None
    specialty_data: dict[str, Any]


@register
@dataclass(frozen=True)
class PatientDetailsChanged(DomainEvent):
    """Only the fields that changed, with their new JSON values."""

    personal: ClassVar[tuple[str, ...]] = ("changes",)
    subject: ClassVar[str] = "patient_id"

    patient_id: UUID
    changes: dict[str, Any]


@register
@dataclass(frozen=True)
class PatientErased(DomainEvent):
    """The patient's personal data was destroyed (their key); the events about them remain."""

    patient_id: UUID
    reason: str
