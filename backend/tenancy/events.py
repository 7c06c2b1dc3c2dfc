"""Events of the tenancy context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from backend.kernel.events import DomainEvent, register


@register
@dataclass(frozen=True)
class TenantCreated(DomainEvent):
    tenant_id: UUID
    name: str
    slug: str
    checkin_opens_before_min: int
    checkin_closes_after_min: int
    kind: str = "clinic"
    currency: str = "USD"


@register
@dataclass(frozen=True)
class TenantPolicyChanged(DomainEvent):
    """Only the settings that changed, with their new JSON values (see tenancy.policy)."""

    changes: dict[str, Any]


@register
@dataclass(frozen=True)
class PractitionerRegistered(DomainEvent):
    practitioner_id: UUID
    name: str
    specialty: str | None
