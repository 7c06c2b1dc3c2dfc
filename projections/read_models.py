"""Every read model the projection runners keep: the front desk's (patients, practitioners,
appointments, daily activity) defined here, and those each context defines with its events."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from backend.admissions.projections import ADMISSIONS, WARDS
from backend.billing.projections import INVOICES, LEDGER
from backend.encounters.projections import VISITS
from backend.notifications.projections import NOTIFICATIONS
from backend.patients.model import PATIENT, Patient
from backend.plugins.projections import CHECKLISTS
from backend.scheduling.model import APPOINTMENT, Appointment
from backend.tenancy.model import PRACTITIONER
from projections.daily_activity import DAILY_ACTIVITY
from projections.framework import StateProjection, TableProjection, mirrored


def _patient_search(p: Patient) -> dict[str, Any]:
    """Columns the patient search reads: the names folded for LIKE, the phone's digits."""
    return {
        "search_name": "" if p.erased else f"{p.given_name} {p.family_name}".casefold(),
        "phone_digits": "".join(c for c in p.phone or "" if c.isdigit()) or None,
    }


def _appointment_row(a: Appointment) -> dict[str, Any]:
    assert a.start is not None
    return {
        "patient_id": a.patient_id,
        "practitioner_id": a.practitioner_id,
        "start_at": a.start,
        "end_at": a.end,
        "day": a.start.astimezone(dt.UTC).date(),
        "reason": a.reason,
        "status": a.status,
        "checked_in_at": a.checked_in_at,
        "checkin_override_reason": a.checkin_override_reason,
        "cancel_reason": a.cancel_reason,
    }


def _appointment(r: asyncpg.Record) -> Appointment:
    return Appointment(
        r["appointment_id"],
        r["patient_id"],
        r["practitioner_id"],
        r["start_at"],
        r["end_at"],
        r["reason"],
        r["status"],
        r["checked_in_at"],
        r["checkin_override_reason"],
        r["cancel_reason"],
    )


PATIENTS = mirrored("patients", PATIENT, "rm_patients", "patient_id", _patient_search)
PRACTITIONERS = mirrored("practitioners", PRACTITIONER, "rm_practitioners", "practitioner_id")
APPOINTMENTS = StateProjection(
    "appointments",
    APPOINTMENT,
    "rm_appointments",
    "appointment_id",
    _appointment_row,
    _appointment,
)
ALL: tuple[TableProjection, ...] = (
    PATIENTS,
    PRACTITIONERS,
    APPOINTMENTS,
    DAILY_ACTIVITY,
    VISITS,
    ADMISSIONS,
    WARDS,
    NOTIFICATIONS,
    INVOICES,
    LEDGER,
    CHECKLISTS,
)


def projector_pool_size() -> int:
    """Connections for a process running every projection: one each (a runner holds one for
    its batch's transaction) and a few for reads, status and the reactions beside them."""
    return len(ALL) + 4
