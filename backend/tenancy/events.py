"""Events of the tenancy context."""

from __future__ import annotations

import datetime as dt
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


@register
@dataclass(frozen=True)
class ApiKeyCreated(DomainEvent):
    """A partner's API key (backend/auth/api_keys.py): what it may do, never its secret.
    v2 added the key's own rate limit (None: the tenant's default for keys)."""

    schema_version: ClassVar[int] = 2

    key_id: UUID
    name: str
    scopes: tuple[str, ...]
    api_version: str
    expires_at: dt.datetime | None
    created_at: dt.datetime
    rate_limit_per_minute: int | None


@upcaster("ApiKeyCreated", 1)
def _api_key_created_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Every key made before v2 follows its tenant's default."""
    return {**data, "rate_limit_per_minute": None}


@register
@dataclass(frozen=True)
class ApiKeyRotated(DomainEvent):
    """A new secret; the previous one keeps working until `retiring_at`."""

    key_id: UUID
    rotated_at: dt.datetime
    retiring_at: dt.datetime


@register
@dataclass(frozen=True)
class ApiKeyRevoked(DomainEvent):
    key_id: UUID
    revoked_at: dt.datetime
