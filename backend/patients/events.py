"""Events of the patients context."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from backend.kernel.events import DomainEvent, register


@register
@dataclass(frozen=True)
class PatientRegistered(DomainEvent):
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

    patient_id: UUID
    changes: dict[str, Any]
