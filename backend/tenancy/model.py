"""Tenant and practitioner aggregates: state, evolve, decide (pure)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.errors import Conflict, Invalid
from backend.kernel.events import DomainEvent
from backend.tenancy.events import PractitionerRegistered, TenantCreated

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class Tenant:
    id: UUID | None = None
    name: str = ""
    slug: str = ""
    checkin_opens_before_min: int = 30
    checkin_closes_after_min: int = 120


def evolve_tenant(state: Tenant, event: DomainEvent) -> Tenant:
    if isinstance(event, TenantCreated):
        return Tenant(
            event.tenant_id,
            event.name,
            event.slug,
            event.checkin_opens_before_min,
            event.checkin_closes_after_min,
        )
    return state


def tenant_view(state: Tenant) -> dict[str, Any]:
    return {"id": state.id, "name": state.name, "slug": state.slug}


def create_tenant(
    state: Tenant, tenant_id: UUID, name: str, slug: str, opens_before: int, closes_after: int
) -> list[DomainEvent]:
    if state.id is not None:
        raise Conflict("TENANT_EXISTS", "tenant already exists")
    if not name.strip():
        raise Invalid("name", "must not be blank")
    if not SLUG.fullmatch(slug):
        raise Invalid("slug", "lowercase letters, digits and inner hyphens, at most 63")
    return [TenantCreated(tenant_id, name.strip(), slug, opens_before, closes_after)]


@dataclass(frozen=True)
class Practitioner:
    id: UUID | None = None
    name: str = ""
    specialty: str | None = None


def evolve_practitioner(state: Practitioner, event: DomainEvent) -> Practitioner:
    if isinstance(event, PractitionerRegistered):
        return Practitioner(event.practitioner_id, event.name, event.specialty)
    return state


def practitioner_view(state: Practitioner) -> dict[str, Any]:
    return dataclasses.asdict(state)


def register_practitioner(
    state: Practitioner, practitioner_id: UUID, name: str, specialty: str | None
) -> list[DomainEvent]:
    if state.id is not None:
        raise Conflict("PRACTITIONER_EXISTS", "practitioner already registered")
    if not name.strip():
        raise Invalid("name", "must not be blank")
    return [PractitionerRegistered(practitioner_id, name.strip(), specialty)]


TENANT = register_aggregate(Aggregate("tenant", Tenant, evolve_tenant, tenant_view))
PRACTITIONER = register_aggregate(
    Aggregate("practitioner", Practitioner, evolve_practitioner, practitioner_view)
)
