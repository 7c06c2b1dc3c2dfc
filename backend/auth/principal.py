"""The authenticated caller. The tenant comes from here and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID


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


@dataclass(frozen=True)
class Principal:
    actor: str
    tenant_id: UUID | None
    roles: frozenset[Role]

    def has_any(self, roles: frozenset[Role]) -> bool:
        return not self.roles.isdisjoint(roles)
