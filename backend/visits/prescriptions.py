"""Prescriptions of a visit: issued before sign-off by a practitioner of the tenant, stopped
(discontinued or cancelled) at any time, never removed (pure).

A token's `sub` is its holder's practitioner id (as for sign-off), so "a practitioner of the
tenant" is a `sub` naming a practitioner registered in the tenant. Discontinued: the therapy
is stopped, it may have been started. Cancelled: it should never be acted on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from uuid import UUID

from backend.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from backend.kernel.events import DomainEvent
from backend.tenancy.model import Practitioner
from backend.visits.events import (
    PrescriptionCancelled,
    PrescriptionDiscontinued,
    PrescriptionDispensed,
    PrescriptionIssued,
)
from backend.visits.state import Visit, existing, iso, required, still_open

MAX_DURATION_DAYS = 365


class NotAPractitioner(Forbidden):
    code = "NOT_A_PRACTITIONER"


def check_prescriber(actor: str, practitioner: Practitioner) -> None:
    """`practitioner`: the tenant's practitioner whose id is `actor`, if any (else empty)."""
    if practitioner.id is None or str(practitioner.id) != actor:
        raise NotAPractitioner("only a practitioner of this clinic prescribes")


def issue_prescription(
    state: Visit,
    prescription_id: UUID,
    medication: str,
    dose: str,
    route: str,
    frequency: str,
    duration_days: int | None,
    prescriber: str,
) -> list[DomainEvent]:
    visit_id = still_open(state)
    if duration_days is not None and not 1 <= duration_days <= MAX_DURATION_DAYS:
        raise Invalid("duration_days", f"a whole number from 1 to {MAX_DURATION_DAYS}")
    return [
        PrescriptionIssued(
            visit_id,
            prescription_id,
            required("medication", medication),
            required("dose", dose),
            required("route", route),
            required("frequency", frequency),
            duration_days,
            prescriber,
        )
    ]


def discontinue(
    state: Visit, prescription_id: UUID, reason: str, by: str, now: dt.datetime
) -> list[DomainEvent]:
    _active(state, prescription_id, "discontinue")
    why = required("reason", reason)
    return [PrescriptionDiscontinued(existing(state), prescription_id, why, by, now)]


def cancel(
    state: Visit, prescription_id: UUID, reason: str, by: str, now: dt.datetime
) -> list[DomainEvent]:
    _active(state, prescription_id, "cancel")
    why = required("reason", reason)
    return [PrescriptionCancelled(existing(state), prescription_id, why, by, now)]


def dispense(
    state: Visit, prescription_id: UUID, by: str, note: str | None, now: dt.datetime
) -> list[DomainEvent]:
    """An active prescription handed out, once (a second time → ALREADY_DISPENSED)."""
    found = _active(state, prescription_id, "dispense")
    if found.get("dispensed") is not None:  # .get: rows folded before dispensing existed
        raise Conflict("ALREADY_DISPENSED", "the prescription was dispensed already")
    cleaned = (note or "").strip() or None
    return [PrescriptionDispensed(existing(state), prescription_id, by, now, cleaned)]


def evolve_prescriptions(state: Visit, event: DomainEvent) -> Visit:
    match event:
        case PrescriptionIssued():
            issued = {
                "prescription_id": str(event.prescription_id),
                "medication": event.medication,
                "dose": event.dose,
                "route": event.route,
                "frequency": event.frequency,
                "duration_days": event.duration_days,
                "prescriber": event.prescriber,
                "status": "active",
                "stopped": None,
                "dispensed": None,
            }
            return dataclasses.replace(state, prescriptions=(*state.prescriptions, issued))
        case PrescriptionDiscontinued() | PrescriptionCancelled():
            status = "discontinued" if isinstance(event, PrescriptionDiscontinued) else "cancelled"
            stopped = {"reason": event.reason, "by": event.by, "at": iso(event.at)}
            prescriptions = tuple(
                {**p, "status": status, "stopped": stopped}
                if p["prescription_id"] == str(event.prescription_id)
                else p
                for p in state.prescriptions
            )
            return dataclasses.replace(state, prescriptions=prescriptions)
        case PrescriptionDispensed():
            dispensed = {
                "by": event.dispensed_by,
                "at": iso(event.dispensed_at),
                "note": event.note,
            }
            prescriptions = tuple(
                {**p, "dispensed": dispensed}
                if p["prescription_id"] == str(event.prescription_id)
                else p
                for p in state.prescriptions
            )
            return dataclasses.replace(state, prescriptions=prescriptions)
    return state


def _active(state: Visit, prescription_id: UUID, action: str) -> dict[str, Any]:
    existing(state)
    found = next(
        (p for p in state.prescriptions if p["prescription_id"] == str(prescription_id)), None
    )
    if found is None:
        raise NotFound(f"prescription {prescription_id} not found")
    if found["status"] != "active":
        raise Conflict(
            "INVALID_STATUS_TRANSITION", f"cannot {action} a {found['status']} prescription"
        )
    return found
