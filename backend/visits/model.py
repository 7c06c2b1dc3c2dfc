"""The visit aggregate: evolve and the decisions on the visit as a whole (pure).

A visit is open until its owning doctor signs it off. Signing freezes the note, the billable
services, the vitals and new prescriptions; addenda are only written after it. Lab orders and
results (backend/visits/lab.py) keep flowing after it, and corrections (an amended result,
a reading entered in error, a prescription stopped: lab.py, vitals.py, prescriptions.py) are
made whatever the visit's status.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.charges import MAX_LINES, NewLine, check_line
from backend.kernel.errors import Conflict, Invalid
from backend.kernel.events import DomainEvent
from backend.kernel.money import parse_amount
from backend.scheduling.model import Appointment
from backend.specialties.events import (
    CalculationRecorded,
    SpecialtyDataRecorded,
    SpecialtyEventRecorded,
)
from backend.specialties.folding import specialty_changes
from backend.visits.events import (
    NOTE_FIELDS,
    AddendumAdded,
    BillableServiceAdded,
    LabOrdered,
    LabResultAmended,
    LabResultReleased,
    LabResultReported,
    LabSpecimenCollected,
    PrescriptionCancelled,
    PrescriptionDiscontinued,
    PrescriptionDispensed,
    PrescriptionIssued,
    VisitCoverTaken,
    VisitNoteDrafted,
    VisitOpened,
    VisitSignedOff,
    VitalsEnteredInError,
    VitalsRecorded,
)
from backend.visits.lab import evolve_lab
from backend.visits.ownership import Act, check, is_visit_doctor
from backend.visits.prescriptions import evolve_prescriptions
from backend.visits.state import Visit, existing, iso, required, still_open
from backend.visits.vitals import evolve_vitals

OPENABLE_APPOINTMENT = frozenset({"confirmed", "checked_in"})


def visit_id_for(appointment_id: UUID) -> UUID:
    """One visit per appointment: its id follows from the appointment's."""
    return uuid5(NAMESPACE_URL, f"caretrail:visit:{appointment_id}")


def evolve(state: Visit, event: DomainEvent) -> Visit:
    match event:
        case VisitOpened():
            return Visit(
                event.visit_id,
                event.patient_id,
                event.practitioner_id,
                event.appointment_id,
                event.reason,
                "open",
                event.opened_at,
            )
        case VisitNoteDrafted():
            note = {s: getattr(event, s) for s in NOTE_FIELDS}
            return dataclasses.replace(
                state, note=note, note_revision=event.revision, note_author=event.author
            )
        case BillableServiceAdded():
            line = service_line(event.code, event.description, event.quantity, event.unit_price)
            return dataclasses.replace(state, services=(*state.services, line))
        case VisitSignedOff():
            return dataclasses.replace(state, status="signed", signed_note_hash=event.note_hash)
        case VisitCoverTaken():
            return dataclasses.replace(state, covering=(*state.covering, event.doctor))
        case AddendumAdded():
            addendum = {"text": event.text, "author": event.author, "added_at": iso(event.added_at)}
            return dataclasses.replace(state, addenda=(*state.addenda, addendum))
        case VitalsRecorded() | VitalsEnteredInError():
            return evolve_vitals(state, event)
        case (
            PrescriptionIssued()
            | PrescriptionDiscontinued()
            | PrescriptionCancelled()
            | PrescriptionDispensed()
        ):
            return evolve_prescriptions(state, event)
        case (
            LabOrdered()
            | LabSpecimenCollected()
            | LabResultReported()
            | LabResultAmended()
            | LabResultReleased()
        ):
            return evolve_lab(state, event)
        case SpecialtyDataRecorded() | SpecialtyEventRecorded() | CalculationRecorded():
            return dataclasses.replace(state, **specialty_changes(state, event))
    return state


def view(state: Visit) -> dict[str, Any]:
    return dataclasses.asdict(state)


def service_line(code: str, description: str, quantity: int, unit_price: Decimal) -> dict[str, Any]:
    """A billable service in the shape VisitSignedOff promises billing."""
    return {
        "code": code,
        "description": description,
        "quantity": quantity,
        "unit_price": str(unit_price),
    }


def open_visit(
    state: Visit,
    visit_id: UUID,
    patient_id: UUID,
    practitioner_id: UUID,
    appointment_id: UUID | None,
    appointment: Appointment | None,
    reason: str | None,
    opened_at: dt.datetime,
) -> list[DomainEvent]:
    """`appointment` is the appointment's state when the visit comes from one; `opened_at`
    was already checked against the clock and the late-charting policy."""
    if state.id is not None:
        raise Conflict("VISIT_EXISTS", "a visit is already open for this appointment")
    if appointment_id is not None:
        if appointment is None or appointment.id is None:
            raise Invalid("appointment_id", "no such appointment")
        if appointment.patient_id != patient_id:
            raise Invalid("appointment_id", "the appointment is for another patient")
        if appointment.practitioner_id != practitioner_id:
            raise Invalid("appointment_id", "the appointment is with another practitioner")
        if appointment.status not in OPENABLE_APPOINTMENT:
            raise Conflict(
                "APPOINTMENT_NOT_CHECKED_IN",
                f"a visit opens from a checked-in or confirmed appointment, not a "
                f"{appointment.status} one",
            )
    cleaned = (reason or "").strip() or None
    return [VisitOpened(visit_id, patient_id, practitioner_id, appointment_id, cleaned, opened_at)]


def draft_note(
    state: Visit, sections: dict[str, str], author: str, reason: str | None = None
) -> list[DomainEvent]:
    """A new revision by `author`, or nothing when the content is what the last revision
    says (a reason alone changes nothing)."""
    visit_id = still_open(state)
    note = {s: sections.get(s, "") for s in NOTE_FIELDS}
    if note == state.note:
        return []
    why = (reason or "").strip() or None
    revision = state.note_revision + 1
    return [
        VisitNoteDrafted(
            visit_id, revision, **note, patient_id=state.patient_id, author=author, reason=why
        )
    ]


def note_hash(note: dict[str, str]) -> str:
    """SHA-256 (hex) of the note's sections as canonical JSON (keys sorted, no spaces, UTF-8):
    what sign-off records, so that the signed text can be checked against it later."""
    canonical = json.dumps(note, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def add_service(
    state: Visit, code: str, description: str, quantity: int, unit_price: str
) -> list[DomainEvent]:
    """A service is a line of the invoice its sign-off drafts, so it is held to the invoice
    line's rules (billing.model) here, where the clinician can still be told: refused later,
    in the billing reaction, it would stop that reaction for every tenant."""
    visit_id = still_open(state)
    if len(state.services) >= MAX_LINES:
        raise Invalid("services", f"at most {MAX_LINES} services (the lines of one invoice)")
    try:
        price = parse_amount(unit_price)
    except ValueError as e:
        raise Invalid("unit_price", str(e)) from None
    line = NewLine(code.strip(), description.strip(), quantity, price)
    check_line(line)
    return [BillableServiceAdded(visit_id, line.code, line.description, quantity, price)]


def sign_off(state: Visit, actor: str, is_doctor: bool) -> list[DomainEvent]:
    visit_id = existing(state)
    check(Act.SIGN_OFF, state, actor, is_doctor)
    if state.status == "signed":
        raise Conflict("VISIT_SIGNED", "the visit is already signed off")
    if state.note is None or not any(v.strip() for v in state.note.values()):
        raise Conflict("NOTE_REQUIRED", "draft the note before signing off")
    assert state.patient_id is not None and state.practitioner_id is not None
    return [
        VisitSignedOff(
            visit_id,
            state.patient_id,
            state.practitioner_id,
            state.appointment_id,
            state.services,
            state.note_revision,
            note_hash(state.note),
        )
    ]


def take_cover(state: Visit, doctor: str, reason: str, now: dt.datetime) -> list[DomainEvent]:
    """`doctor` is a DOCTOR known to be a practitioner of the tenant. Also after sign-off (a
    prescription may still need stopping); the visit's doctor, or one already covering,
    changes nothing."""
    visit_id = existing(state)
    if is_visit_doctor(state, doctor, True) or doctor in state.covering:
        return []
    return [VisitCoverTaken(visit_id, doctor, required("reason", reason), now)]


def add_addendum(state: Visit, text: str, author: str, now: dt.datetime) -> list[DomainEvent]:
    visit_id = existing(state)
    if state.status != "signed":
        raise Conflict("VISIT_NOT_SIGNED", "addenda are written after sign-off; edit the note")
    return [AddendumAdded(visit_id, required("text", text), author, now, state.patient_id)]


VISIT = register_aggregate(Aggregate("visit", Visit, evolve, view, snapshot_version=6))
