"""Events of the admissions context.

Three kinds of stream take part: a ward (its beds and who occupies them), an admission (one
inpatient stay from admission to discharge) and a patient's stay (whether the patient has an
open admission). An admission, transfer or discharge appends to each stream it touches in one
transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from uuid import UUID

from backend.kernel.events import DomainEvent, register


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
    admission_id: UUID
    disposition: str
    summary: str | None
    discharged_at: dt.datetime


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
