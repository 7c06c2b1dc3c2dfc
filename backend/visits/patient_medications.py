"""A patient's medication record across visits: their active prescriptions and their
allergies, the stream a new prescription is checked against for duplicate therapy and
allergens (pure).

Issuing appends MedicationStarted here, discontinuing or cancelling MedicationStopped, each in
the visit command's transaction, so two prescriptions issued at once for one patient cannot
miss each other. A prescription whose duration has run out is no longer active. Prescriptions
issued before this stream existed are not on it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.errors import Invalid, NotFound
from backend.kernel.events import DomainEvent
from backend.visits.events import (
    AllergyRecorded,
    AllergyRemoved,
    MedicationStarted,
    MedicationStopped,
)

SEVERITIES = ("mild", "moderate", "severe", "unknown")


@dataclass(frozen=True)
class PatientMedications:
    patient_id: UUID | None = None
    """Named so that an erasure finds the stream's snapshots (they hold sealed values)."""
    prescriptions: tuple[dict[str, Any], ...] = ()
    """{prescription_id, visit_id, medication, ends_at}: started and not stopped."""
    allergies: tuple[dict[str, Any], ...] = ()
    """{allergy_id, substance, reaction, severity, recorded_by, recorded_at}: not removed."""


def evolve(state: PatientMedications, event: DomainEvent) -> PatientMedications:
    match event:
        case MedicationStarted():
            started = {
                "prescription_id": str(event.prescription_id),
                "visit_id": str(event.visit_id),
                "medication": event.medication,
                "ends_at": None if event.ends_at is None else event.ends_at.isoformat(),
            }
            prescribed = (*state.prescriptions, started)
            return dataclasses.replace(state, patient_id=event.patient_id, prescriptions=prescribed)
        case MedicationStopped():
            stopped = str(event.prescription_id)
            kept = tuple(p for p in state.prescriptions if p["prescription_id"] != stopped)
            return dataclasses.replace(state, patient_id=event.patient_id, prescriptions=kept)
        case AllergyRecorded():
            allergy = {
                "allergy_id": str(event.allergy_id),
                "substance": event.substance,
                "reaction": event.reaction,
                "severity": event.severity,
                "recorded_by": event.recorded_by,
                "recorded_at": event.recorded_at.isoformat(),
            }
            allergies = (*state.allergies, allergy)
            return dataclasses.replace(state, patient_id=event.patient_id, allergies=allergies)
        case AllergyRemoved():
            removed = str(event.allergy_id)
            kept = tuple(a for a in state.allergies if a["allergy_id"] != removed)
            return dataclasses.replace(state, patient_id=event.patient_id, allergies=kept)
    return state


def view(state: PatientMedications) -> dict[str, Any]:
    return {"prescriptions": list(state.prescriptions), "allergies": list(state.allergies)}


def medications_stream_id(patient_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"caretrail:patient_medications:{patient_id}")


def active(state: PatientMedications, now: dt.datetime) -> list[dict[str, Any]]:
    return [
        p
        for p in state.prescriptions
        if p["ends_at"] is None or dt.datetime.fromisoformat(p["ends_at"]) > now
    ]


def start(
    patient_id: UUID,
    prescription_id: UUID,
    visit_id: UUID,
    medication: str,
    duration_days: int | None,
    now: dt.datetime,
) -> list[DomainEvent]:
    ends_at = None if duration_days is None else now + dt.timedelta(days=duration_days)
    return [MedicationStarted(patient_id, prescription_id, visit_id, medication, ends_at)]


def stop(state: PatientMedications, patient_id: UUID, prescription_id: UUID) -> list[DomainEvent]:
    """Nothing for a prescription not on the stream (issued before it existed)."""
    listed = any(p["prescription_id"] == str(prescription_id) for p in state.prescriptions)
    return [MedicationStopped(patient_id, prescription_id)] if listed else []


def record_allergy(
    state: PatientMedications,
    patient_id: UUID,
    allergy_id: UUID,
    substance: str,
    reaction: str | None,
    severity: str,
    by: str,
    now: dt.datetime,
) -> list[DomainEvent]:
    """A substance already recorded (any case or spacing) records nothing."""
    named = " ".join(substance.split())
    if not named:
        raise Invalid("substance", "must not be blank")
    if severity not in SEVERITIES:
        raise Invalid("severity", f"one of {', '.join(SEVERITIES)}")
    if any(a["substance"].casefold() == named.casefold() for a in state.allergies):
        return []
    why = (reaction or "").strip() or None
    return [AllergyRecorded(patient_id, allergy_id, named, why, severity, by, now)]


def remove_allergy(
    state: PatientMedications,
    patient_id: UUID,
    allergy_id: UUID,
    reason: str,
    by: str,
    now: dt.datetime,
) -> list[DomainEvent]:
    if not any(a["allergy_id"] == str(allergy_id) for a in state.allergies):
        raise NotFound(f"allergy {allergy_id} not found")
    if not reason.strip():
        raise Invalid("reason", "must not be blank")
    return [AllergyRemoved(patient_id, allergy_id, reason.strip(), by, now)]


PATIENT_MEDICATIONS = register_aggregate(
    Aggregate("patient_medications", PatientMedications, evolve, view, snapshot_version=2)
)
