"""The scheduling read models: each appointment's folded state (the day views, the front desk
and the practitioner's free and busy time read it), and the day's activity counters
(daily_activity.py).

Appointments keep their instants only: a day is a range of `start_at` cut in the tenant's time
zone when read (backend/tenancy/zone.py), so no row holds a day that a change of time zone, or
a rebuild, could leave wrong."""

from __future__ import annotations

from typing import Any

import asyncpg

from backend.scheduling.daily_activity import DAILY_ACTIVITY
from backend.scheduling.holds import SLOT_HOLD, SlotHold
from backend.scheduling.model import APPOINTMENT, Appointment
from backend.scheduling.no_show_rules import NO_SHOW_RULES
from projections.framework import StateProjection, redacting

__all__ = ["APPOINTMENTS", "DAILY_ACTIVITY", "HOLDS", "NO_SHOW_RULES"]


def _appointment_row(a: Appointment) -> dict[str, Any]:
    assert a.start is not None
    return {
        "patient_id": a.patient_id,
        "practitioner_id": a.practitioner_id,
        "start_at": a.start,
        "end_at": a.end,
        "reason": a.reason,
        "back_charting_reason": a.back_charting_reason,
        "status": a.status,
        "checked_in_at": a.checked_in_at,
        "checkin_override_reason": a.checkin_override_reason,
        "cancel_reason": a.cancel_reason,
        "visit_id": a.visit_id,
    }


def _appointment(r: asyncpg.Record) -> Appointment:
    return Appointment(
        id=r["appointment_id"],
        patient_id=r["patient_id"],
        practitioner_id=r["practitioner_id"],
        start=r["start_at"],
        end=r["end_at"],
        reason=r["reason"],
        back_charting_reason=r["back_charting_reason"],
        status=r["status"],
        checked_in_at=r["checked_in_at"],
        checkin_override_reason=r["checkin_override_reason"],
        cancel_reason=r["cancel_reason"],
        visit_id=r["visit_id"],
    )


APPOINTMENTS = redacting(
    StateProjection(
        "appointments",
        APPOINTMENT,
        "rm_appointments",
        "appointment_id",
        _appointment_row,
        _appointment,
    ),
    "reason = NULL",  # sealed under the patient's key: an erased patient's reads as null
)


def _hold_row(h: SlotHold) -> dict[str, Any]:
    return {
        "practitioner_id": h.practitioner_id,
        "patient_id": h.patient_id,
        "start_at": h.start,
        "end_at": h.end,
        "expires_at": h.expires_at,
        "status": h.status,
        "appointment_id": h.appointment_id,
    }


def _hold(r: asyncpg.Record) -> SlotHold:
    return SlotHold(
        id=r["hold_id"],
        practitioner_id=r["practitioner_id"],
        patient_id=r["patient_id"],
        start=r["start_at"],
        end=r["end_at"],
        expires_at=r["expires_at"],
        status=r["status"],
        appointment_id=r["appointment_id"],
    )


HOLDS = StateProjection("slot_holds", SLOT_HOLD, "rm_slot_holds", "hold_id", _hold_row, _hold)
"""Each hold's state: read by GET /v1/holds/{id}, the free slots (the holds still
running) and the timers (the holds due to expire)."""
