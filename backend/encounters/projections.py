"""The visits read model: each visit's folded state, one row per visit stream."""

from __future__ import annotations

from typing import Any

import asyncpg

from backend.encounters.model import VISIT, Visit, view
from projections.framework import StateProjection


def _visit_row(v: Visit) -> dict[str, Any]:
    return {
        "patient_id": v.patient_id,
        "practitioner_id": v.practitioner_id,
        "appointment_id": v.appointment_id,
        "reason": v.reason,
        "status": v.status,
        "opened_at": v.opened_at,
        "note": v.note,
        "note_revision": v.note_revision,
        "services": v.services,
        "vitals": v.vitals,
        "prescriptions": v.prescriptions,
        "lab_orders": v.lab_orders,
        "addenda": v.addenda,
        "specialty_data": v.specialty_data,
        "specialty_events": v.specialty_events,
        "calculations": v.calculations,
    }


def _visit(r: asyncpg.Record) -> Visit:
    return Visit(
        r["visit_id"],
        r["patient_id"],
        r["practitioner_id"],
        r["appointment_id"],
        r["reason"],
        r["status"],
        r["opened_at"],
        r["note"],
        r["note_revision"],
        tuple(r["services"]),
        tuple(r["vitals"]),
        tuple(r["prescriptions"]),
        tuple(r["lab_orders"]),
        tuple(r["addenda"]),
        r["specialty_data"],
        tuple(r["specialty_events"]),
        r["calculations"],
    )


def visit_view(row: asyncpg.Record) -> dict[str, Any]:
    return {**view(_visit(row)), "version": row["version"]}


VISITS = StateProjection("visits", VISIT, "rm_visits", "visit_id", _visit_row, _visit)
