"""Events of the tenancy context."""

from __future__ import annotations

from dataclasses import dataclass
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


@register
@dataclass(frozen=True)
class PractitionerRegistered(DomainEvent):
    practitioner_id: UUID
    name: str
    specialty: str | None
