"""Events of the patients context."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

from backend.kernel.events import DomainEvent, register, upcaster


@register
@dataclass(frozen=True)
class PatientRegistered(DomainEvent):
    """`phone` is E.164 and `phone_as_typed` the form staff typed (see kernel.phones); v2
    added `phone_as_typed`."""

    schema_version: ClassVar[int] = 2
    personal: ClassVar[tuple[str, ...]] = (
        "given_name",
        "family_name",
        "birth_date",
        "sex",
        "phone",
        "phone_as_typed",
        "email",
        "specialty_data",
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
    phone_as_typed: str | None


@upcaster("PatientRegistered", 1)
def _patient_registered_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Before v2 the phone was recorded as typed only: that is its typed form, and its
    `phone` until read with the tenant's region (kernel.phones.dialable)."""
    return {**data, "phone_as_typed": data.get("phone")}


@register
@dataclass(frozen=True)
class PatientDetailsChanged(DomainEvent):
    """Only the fields that changed, with their new JSON values. A changed phone comes with
    both its forms, `phone` (E.164) and `phone_as_typed`; a change recorded before phones were
    read has `phone` alone, as typed (the patient model folds it as both). v2 added `reason`,
    why the details changed when the caller said (None before and when not given)."""

    schema_version: ClassVar[int] = 2
    personal: ClassVar[tuple[str, ...]] = ("changes", "reason")
    subject: ClassVar[str] = "patient_id"

    patient_id: UUID
    changes: dict[str, Any]
    reason: str | None = None


@upcaster("PatientDetailsChanged", 1)
def _patient_details_changed_v1(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "reason": None}


@register
@dataclass(frozen=True)
class PatientErased(DomainEvent):
    """The patient's personal data was destroyed (their key); the events about them remain."""

    patient_id: UUID
    reason: str


@register
@dataclass(frozen=True)
class PatientDied(DomainEvent):
    """The patient's death, recorded by staff or learned from a discharge with disposition
    deceased (`admission_id` then names it). The time of death is personal data: it is sealed
    like the birth date and reads as redacted once the patient is erased."""

    personal: ClassVar[tuple[str, ...]] = ("died_at",)
    subject: ClassVar[str] = "patient_id"

    patient_id: UUID
    died_at: dt.datetime
    admission_id: UUID | None


@register
@dataclass(frozen=True)
class PatientMerged(DomainEvent):
    """On the duplicate's stream: its records go on under `into`'s, the patient kept. The
    duplicate's appointments, visits and invoices keep its id; it takes nothing new."""

    patient_id: UUID
    into: UUID
    reason: str


@register
@dataclass(frozen=True)
class PatientDuplicateMergedIn(DomainEvent):
    """On the kept patient's stream, in the same transaction: `duplicate` is one of theirs."""

    patient_id: UUID
    duplicate: UUID
