"""The authenticated caller. The tenant comes from here and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from backend.kernel.errors import Forbidden


class Role(StrEnum):
    PLATFORM_ADMIN = "PLATFORM_ADMIN"
    CLINIC_ADMIN = "CLINIC_ADMIN"
    DOCTOR = "DOCTOR"
    NURSE = "NURSE"
    RECEPTIONIST = "RECEPTIONIST"
    PHARMACIST = "PHARMACIST"
    LAB_TECHNICIAN = "LAB_TECHNICIAN"
    FINANCE_BILLING = "FINANCE_BILLING"
    AUDITOR = "AUDITOR"
    PATIENT = "PATIENT"


STAFF = frozenset({Role.CLINIC_ADMIN, Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST})
BACK_OFFICE = frozenset({Role.PHARMACIST, Role.LAB_TECHNICIAN, Role.FINANCE_BILLING, Role.AUDITOR})
READS_EVERY_PATIENT = frozenset({*STAFF, Role.AUDITOR})


@dataclass(frozen=True)
class RateLimits:
    """Requests a minute an API key may make, and all its tenant's keys together
    (docs/partners.md, Rate limits)."""

    key_per_minute: int
    tenant_per_minute: int


@dataclass(frozen=True)
class Principal:
    """A person signed in with a token (their roles), or a partner system with an API key:
    then `key_id` is set, `actor` is the key's id, there are no roles and `scopes` say what it
    may call (backend/auth/scopes.py)."""

    actor: str
    tenant_id: UUID | None
    roles: frozenset[Role]
    key_id: UUID | None = None
    scopes: frozenset[str] = frozenset()
    api_version: str | None = None
    """The dated API version the key is pinned to (None for tokens: the current one)."""
    rate_limits: RateLimits | None = None
    """A key's budgets (None for tokens: people are not rate limited)."""

    def has_any(self, roles: frozenset[Role]) -> bool:
        return not self.roles.isdisjoint(roles)


def reads_every_patient(principal: Principal) -> bool:
    """Staff, auditors and partners' keys (within their scopes) read every patient's records;
    anyone else (a PATIENT) only their own."""
    return principal.key_id is not None or principal.has_any(READS_EVERY_PATIENT)


def may_read_patient(principal: Principal, patient_id: UUID) -> bool:
    """A patient reads their own records: a PATIENT token's `sub` is the patient's id (as the
    identity provider issues it)."""
    return reads_every_patient(principal) or str(patient_id) == principal.actor


def listed_patient(principal: Principal, patient_id: UUID | None) -> UUID | None:
    """The patient a list is filtered to: the one asked for (or none, every patient's) for
    staff and auditors; for a patient, always themselves (the token's `sub`), and asking for
    anyone else is refused."""
    if reads_every_patient(principal):
        return patient_id
    try:
        own = UUID(principal.actor)
    except ValueError:
        raise Forbidden("this token's sub names no patient") from None
    if patient_id not in (None, own):
        raise Forbidden("a patient lists their own records only")
    return own
