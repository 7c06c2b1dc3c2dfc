"""Events of the visits context, on the stream type "visit"."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from backend.kernel.events import DomainEvent, register, upcaster


@register
@dataclass(frozen=True)
class VisitOpened(DomainEvent):
    """`appointment_id` is None for a walk-in. The reason is sealed under the patient's key."""

    personal: ClassVar[tuple[str, ...]] = ("reason",)
    subject: ClassVar[str] = "patient_id"

    visit_id: UUID
    patient_id: UUID
    practitioner_id: UUID
    appointment_id: UUID | None
    reason: str | None
    opened_at: dt.datetime


NOTE_FIELDS = ("subjective", "objective", "assessment", "plan")


@register
@dataclass(frozen=True)
class VisitNoteDrafted(DomainEvent):
    """A full revision of the SOAP note (each revision replaces the previous one), by `author`
    (their token's `sub`), with the `reason` for a revision when one is given. The sections
    and the reason are sealed under the patient's key. v2 added `patient_id` (the key's
    subject), `author` and `reason` (None on revisions recorded before)."""

    schema_version: ClassVar[int] = 2
    personal: ClassVar[tuple[str, ...]] = (
        "subjective",
        "objective",
        "assessment",
        "plan",
        "reason",
    )
    subject: ClassVar[str] = "patient_id"

    visit_id: UUID
    revision: int
    subjective: str
    objective: str
    assessment: str
    plan: str
    patient_id: UUID | None
    author: str | None
    reason: str | None


@upcaster("VisitNoteDrafted", 1)
def _visit_note_drafted_v1(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "patient_id": None, "author": None, "reason": None}


@register
@dataclass(frozen=True)
class BillableServiceAdded(DomainEvent):
    visit_id: UUID
    code: str
    description: str
    quantity: int
    unit_price: Decimal


@register
@dataclass(frozen=True)
class VisitSignedOff(DomainEvent):
    """The contract billing drafts an invoice from: each service is
    {"code": str, "description": str, "quantity": int, "unit_price": decimal string}.
    v2 added the note revision signed and its hash (visits.model.note_hash; None before)."""

    schema_version: ClassVar[int] = 2

    visit_id: UUID
    patient_id: UUID
    practitioner_id: UUID
    appointment_id: UUID | None
    services: tuple[dict[str, Any], ...]
    note_revision: int | None
    note_hash: str | None


@upcaster("VisitSignedOff", 1)
def _visit_signed_off_v1(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "note_revision": None, "note_hash": None}


@register
@dataclass(frozen=True)
class AddendumAdded(DomainEvent):
    """The text is sealed under the patient's key; v2 added `patient_id`, its subject."""

    schema_version: ClassVar[int] = 2
    personal: ClassVar[tuple[str, ...]] = ("text",)
    subject: ClassVar[str] = "patient_id"

    visit_id: UUID
    text: str
    author: str
    added_at: dt.datetime
    patient_id: UUID | None


@upcaster("AddendumAdded", 1)
def _addendum_added_v1(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "patient_id": None}


@register
@dataclass(frozen=True)
class VisitCoverTaken(DomainEvent):
    """A doctor other than the visit's own took responsibility for it (on call, a handover):
    from then on they may write its note, prescribe and order as its doctor does."""

    visit_id: UUID
    doctor: str
    reason: str
    taken_at: dt.datetime


@register
@dataclass(frozen=True)
class VitalsRecorded(DomainEvent):
    """`taken_at` is the clinical time of the measurement (also the event's occurred_at).
    v2 added `reading_id` (what an entered-in-error names) and `recorded_by` (who charted it)."""

    schema_version: ClassVar[int] = 2

    visit_id: UUID
    reading_id: UUID
    taken_at: dt.datetime
    recorded_by: str | None
    heart_rate: int | None
    systolic: int | None
    diastolic: int | None
    temperature_c: Decimal | None
    respiratory_rate: int | None
    spo2: int | None
    weight_kg: Decimal | None
    height_cm: Decimal | None


@upcaster("VitalsRecorded", 1)
def _vitals_recorded_v1(data: dict[str, Any]) -> dict[str, Any]:
    """A reading charted before v2 gets an id derived from everything it says (two such
    readings share one only if they are the same values of one visit at one time: duplicates).
    Who charted it is in the event's metadata only, so it stays unknown here (its visit's
    doctor may still mark it entered in error)."""
    reading = uuid5(NAMESPACE_URL, "caretrail:vitals:" + json.dumps(data, sort_keys=True))
    return {**data, "reading_id": str(reading), "recorded_by": None}


@register
@dataclass(frozen=True)
class VitalsEnteredInError(DomainEvent):
    """A reading that should never have been charted (wrong patient, wrong value). It stays on
    the record, marked; its valid time is the reading's own (it was never true)."""

    visit_id: UUID
    reading_id: UUID
    reason: str
    marked_by: str
    marked_at: dt.datetime


@register
@dataclass(frozen=True)
class PrescriptionIssued(DomainEvent):
    visit_id: UUID
    prescription_id: UUID
    medication: str
    dose: str
    route: str
    frequency: str
    duration_days: int | None
    prescriber: str


@register
@dataclass(frozen=True)
class LabOrdered(DomainEvent):
    visit_id: UUID
    order_id: UUID
    test_code: str
    test_name: str
    ordered_at: dt.datetime


@register
@dataclass(frozen=True)
class LabSpecimenCollected(DomainEvent):
    visit_id: UUID
    order_id: UUID
    collected_at: dt.datetime


@register
@dataclass(frozen=True)
class LabResultReported(DomainEvent):
    """v2 added `reported_by` (unknown, None, for results reported before)."""

    schema_version: ClassVar[int] = 2

    visit_id: UUID
    order_id: UUID
    value: str
    unit: str | None
    reference_range: str | None
    abnormal: bool
    comment: str | None
    reported_at: dt.datetime
    reported_by: str | None


@upcaster("LabResultReported", 1)
def _lab_result_reported_v1(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "reported_by": None}


@register
@dataclass(frozen=True)
class LabResultAmended(DomainEvent):
    """The corrected result replaces the reported one, which stays in the order's history.
    Its valid time is the original report's: the corrected value is what was true then."""

    visit_id: UUID
    order_id: UUID
    value: str
    unit: str | None
    reference_range: str | None
    abnormal: bool
    comment: str | None
    reason: str
    amended_by: str
    amended_at: dt.datetime


@register
@dataclass(frozen=True)
class LabResultReleased(DomainEvent):
    """A clinician reviewed the order's current result and released it to the patient: the
    patient sees this result (not a later amendment) until a clinician releases again."""

    visit_id: UUID
    order_id: UUID
    released_by: str
    released_at: dt.datetime


@register
@dataclass(frozen=True)
class PatientVisitOpened(DomainEvent):
    """On the patient's open-visits stream, in the transaction that opens the visit."""

    patient_id: UUID
    visit_id: UUID


@register
@dataclass(frozen=True)
class PatientVisitClosed(DomainEvent):
    """On the patient's open-visits stream, in the transaction that signs the visit off."""

    patient_id: UUID
    visit_id: UUID


@register
@dataclass(frozen=True)
class PrescriptionDiscontinued(DomainEvent):
    """The therapy is stopped (it may have been started)."""

    visit_id: UUID
    prescription_id: UUID
    reason: str
    by: str
    at: dt.datetime


@register
@dataclass(frozen=True)
class PrescriptionCancelled(DomainEvent):
    """The prescription should never be acted on (issued in error, not to be dispensed)."""

    visit_id: UUID
    prescription_id: UUID
    reason: str
    by: str
    at: dt.datetime


@register
@dataclass(frozen=True)
class MedicationStarted(DomainEvent):
    """On the patient's medications stream, with the prescription that starts it. `ends_at` is
    when its duration runs out (None: until stopped)."""

    patient_id: UUID
    prescription_id: UUID
    visit_id: UUID
    medication: str
    ends_at: dt.datetime | None


@register
@dataclass(frozen=True)
class MedicationStopped(DomainEvent):
    """On the patient's medications stream, with the prescription's discontinuation or
    cancellation."""

    patient_id: UUID
    prescription_id: UUID


@register
@dataclass(frozen=True)
class AllergyRecorded(DomainEvent):
    """On the patient's medications stream: a substance the patient reacts to. The substance
    and reaction are sealed under the patient's key."""

    personal: ClassVar[tuple[str, ...]] = ("substance", "reaction")
    subject: ClassVar[str] = "patient_id"

    patient_id: UUID
    allergy_id: UUID
    substance: str
    reaction: str | None
    severity: str
    recorded_by: str
    recorded_at: dt.datetime


@register
@dataclass(frozen=True)
class AllergyRemoved(DomainEvent):
    """The allergy no longer holds (resolved, or recorded in error); it stays in the history.
    The reason is sealed under the patient's key."""

    personal: ClassVar[tuple[str, ...]] = ("reason",)
    subject: ClassVar[str] = "patient_id"

    patient_id: UUID
    allergy_id: UUID
    reason: str
    removed_by: str
    removed_at: dt.datetime


@register
@dataclass(frozen=True)
class PrescriptionDispensed(DomainEvent):
    """A pharmacist handed out an active prescription (once)."""

    visit_id: UUID
    prescription_id: UUID
    dispensed_by: str
    dispensed_at: dt.datetime
    note: str | None
