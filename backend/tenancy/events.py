"""Events of the tenancy context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

from backend.kernel.events import DomainEvent, register, upcaster


@register
@dataclass(frozen=True)
class TenantCreated(DomainEvent):
    """v2 added the tenant's kind and currency."""

    schema_version: ClassVar[int] = 2

    tenant_id: UUID
    name: str
    slug: str
    checkin_opens_before_min: int
    checkin_closes_after_min: int
    kind: str
    currency: str


@upcaster("TenantCreated", 1)
def _tenant_created_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Every tenant created before v2 was a clinic billing in US dollars."""
    return {**data, "kind": "clinic", "currency": "USD"}


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


@register
@dataclass(frozen=True)
class TenantSpecialtiesEnabled(DomainEvent):
    """The full set of specialty plugins the tenant uses from now on (names, sorted)."""

    specialties: tuple[str, ...]
