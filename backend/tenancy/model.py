"""Tenant and practitioner aggregates: state, evolve, decide (pure)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from backend.kernel import streams
from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent
from backend.tenancy import api_keys, policy
from backend.tenancy.events import (
    ApiKeyCreated,
    ApiKeyRevoked,
    ApiKeyRotated,
    PractitionerRegistered,
    TenantCreated,
    TenantPolicyChanged,
    TenantSpecialtiesEnabled,
)
from backend.tenancy.policy import TenantPolicy

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class Tenant:
    id: UUID | None = None
    name: str = ""
    slug: str = ""
    policy: TenantPolicy = field(default_factory=TenantPolicy)
    specialties: tuple[str, ...] = ()
    """The specialty plugins the tenant enabled (see backend/specialties)."""
    api_keys: tuple[dict[str, Any], ...] = ()
    """Its partners' API keys, revoked ones too (backend/tenancy/api_keys.py)."""


def evolve_tenant(state: Tenant, event: DomainEvent) -> Tenant:
    if isinstance(event, TenantCreated):
        created = TenantPolicy(
            kind=event.kind,
            currency=event.currency,
            checkin_opens_before_min=event.checkin_opens_before_min,
            checkin_closes_after_min=event.checkin_closes_after_min,
        )
        return Tenant(event.tenant_id, event.name, event.slug, created)
    if isinstance(event, TenantPolicyChanged):
        return dataclasses.replace(state, policy=policy.apply(state.policy, event.changes))
    if isinstance(event, TenantSpecialtiesEnabled):
        return dataclasses.replace(state, specialties=event.specialties)
    if isinstance(event, ApiKeyCreated | ApiKeyRotated | ApiKeyRevoked):
        return dataclasses.replace(state, api_keys=api_keys.with_key_event(state.api_keys, event))
    return state


def tenant_view(state: Tenant) -> dict[str, Any]:
    return {
        "id": state.id,
        "name": state.name,
        "slug": state.slug,
        "policy": policy.view(state.policy),
        "specialties": list(state.specialties),
    }


def create_tenant(
    state: Tenant,
    tenant_id: UUID,
    name: str,
    slug: str,
    opens_before: int,
    closes_after: int,
    kind: str = "clinic",
    currency: str = "USD",
) -> list[DomainEvent]:
    if state.id is not None:
        raise Conflict("TENANT_EXISTS", "tenant already exists")
    if not name.strip():
        raise Invalid("name", "must not be blank")
    if not SLUG.fullmatch(slug):
        raise Invalid("slug", "lowercase letters, digits and inner hyphens, at most 63")
    policy.parse_changes({"kind": kind, "currency": currency})
    return [
        TenantCreated(tenant_id, name.strip(), slug, opens_before, closes_after, kind, currency)
    ]


def change_policy(state: Tenant, changes: dict[str, Any]) -> list[DomainEvent]:
    """Record only the settings that really change; an empty result means nothing to do."""
    if state.id is None:
        raise NotFound("tenant not found")
    parsed = policy.parse_changes(changes)
    changed = {k: v for k, v in parsed.items() if getattr(state.policy, k) != v}
    return [TenantPolicyChanged(policy.to_json(changed))] if changed else []


def enable_specialties(state: Tenant, names: list[str]) -> list[DomainEvent]:
    """Record the tenant's new set of specialties (the caller checked that each one is a
    loaded plugin); an unchanged set records nothing."""
    if state.id is None:
        raise NotFound("tenant not found")
    chosen = tuple(sorted(set(names)))
    return [] if chosen == state.specialties else [TenantSpecialtiesEnabled(chosen)]


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


TENANT = register_aggregate(
    Aggregate(streams.TENANT, Tenant, evolve_tenant, tenant_view, snapshot_version=5)
)
PRACTITIONER = register_aggregate(
    Aggregate("practitioner", Practitioner, evolve_practitioner, practitioner_view)
)
