"""Events of the admissions context.

Three kinds of stream take part: a ward (its beds and who occupies them), an admission (one
inpatient stay from admission to discharge) and a patient's stay (whether the patient has an
open admission). An admission, transfer or discharge appends to each stream it touches in one
transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

from backend.kernel.events import DomainEvent, register, upcaster


@register
@dataclass(frozen=True)
class WardDefined(DomainEvent):
    ward_id: UUID
    name: str
    beds: tuple[str, ...]


@register
@dataclass(frozen=True)
class BedsAdded(DomainEvent):
    ward_id: UUID
    beds: tuple[str, ...]


@register
@dataclass(frozen=True)
class WardRenamed(DomainEvent):
    ward_id: UUID
    name: str


@register
@dataclass(frozen=True)
class WardClosed(DomainEvent):
    """The ward takes no more patients (it was empty); its history stays readable."""

    ward_id: UUID


@register
@dataclass(frozen=True)
class BedStateChanged(DomainEvent):
    """A free bed being cleaned or blocked (broken, isolation), or available again."""

    ward_id: UUID
    bed: str
    state: str
    reason: str | None


@register
@dataclass(frozen=True)
class BedOccupied(DomainEvent):
    """On a ward stream: the bed now holds the admission's patient."""

    ward_id: UUID
    bed: str
    admission_id: UUID
    patient_id: UUID


@register
@dataclass(frozen=True)
class BedReleased(DomainEvent):
    """`released_at` is when the patient left the bed (valid time: a discharge may be charted
    late)."""

    ward_id: UUID
    bed: str
    admission_id: UUID
    released_at: dt.datetime


@register
@dataclass(frozen=True)
class PatientAdmitted(DomainEvent):
    """The reason is sealed under the patient's key."""

    personal: ClassVar[tuple[str, ...]] = ("reason",)
    subject: ClassVar[str] = "patient_id"

    admission_id: UUID
    patient_id: UUID
    ward_id: UUID
    bed: str
    specialty: str | None
    reason: str
    admitted_at: dt.datetime


@register
@dataclass(frozen=True)
class PatientTransferred(DomainEvent):
    admission_id: UUID
    from_ward_id: UUID
    from_bed: str
    ward_id: UUID
    bed: str
    reason: str | None
    transferred_at: dt.datetime


@register
@dataclass(frozen=True)
class PatientDischarged(DomainEvent):
    """v2 added `time_zone`: the tenant's at the discharge, in which the stay's days are
    counted (midnights)."""

    schema_version: ClassVar[int] = 2

    admission_id: UUID
    disposition: str
    summary: str | None
    discharged_at: dt.datetime
    time_zone: str


@upcaster("PatientDischarged", 1)
def _patient_discharged_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Before v2 a stay's days were counted in UTC (whole 24 hours, then)."""
    return {**data, "time_zone": "UTC"}


@register
@dataclass(frozen=True)
class PatientStayOpened(DomainEvent):
    """On a patient's stay stream: the patient is an inpatient under this admission."""

    patient_id: UUID
    admission_id: UUID


@register
@dataclass(frozen=True)
class PatientStayClosed(DomainEvent):
    patient_id: UUID
    admission_id: UUID
    closed_at: dt.datetime


@register
@dataclass(frozen=True)
class WardNameTaken(DomainEvent):
    """On the tenant's ward names stream: `name` is the ward's (no other open ward has it)."""

    ward_id: UUID
    name: str


@register
@dataclass(frozen=True)
class WardNameFreed(DomainEvent):
    """The ward was renamed or closed: another ward may take `name`."""

    ward_id: UUID
    name: str
