"""The live queue: who is waiting for each practitioner today, in the order they checked in,
with an estimated wait: the booked length of every appointment ahead of them (the first in line
waits for nothing but the practitioner). Computed from the appointments read model: the
checked-in appointments of today (in the tenant's time zone) and any other whose check-in window
is open now (at 23:50, one at 00:15 checked in early; after midnight, one begun at 23:45);
completion, a no-show or a cancellation takes one out of it."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from backend.kernel.local_days import day_bounds
from backend.scheduling.model import CheckinWindow
from backend.tenancy.zone import tenant_policy

READ_MODEL = "appointments"


async def queue_of(
    conn: asyncpg.Connection,
    tenant_id: UUID,
    now: dt.datetime,
    practitioner_id: UUID | None = None,
) -> list[dict[str, Any]]:
    """Each practitioner's queue (one, or every one with somebody waiting)."""
    policy = await tenant_policy(conn, tenant_id)
    zone = ZoneInfo(policy.timezone)
    since, until = day_bounds(now.astimezone(zone).date(), zone)
    rows = await conn.fetch(
        "SELECT appointment_id, patient_id, practitioner_id, start_at, end_at, checked_in_at"
        " FROM rm_appointments WHERE status = 'checked_in'"
        " AND (start_at >= $1 AND start_at < $2 OR start_at BETWEEN $3 AND $4)"
        " AND ($5::uuid IS NULL OR practitioner_id = $5)"
        " ORDER BY practitioner_id, checked_in_at, appointment_id",
        since,
        until,
        *CheckinWindow.of(policy).starts_open_at(now),
        practitioner_id,
    )
    queues: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        line = queues[r["practitioner_id"]]
        ahead = sum((e["length_min"] for e in line), 0)
        line.append(
            {
                "appointment_id": r["appointment_id"],
                "patient_id": r["patient_id"],
                "position": len(line) + 1,
                "checked_in_at": r["checked_in_at"],
                "start": r["start_at"],
                "length_min": (r["end_at"] - r["start_at"]) // dt.timedelta(minutes=1),
                "estimated_wait_min": ahead,
            }
        )
    if practitioner_id is not None and practitioner_id not in queues:
        queues[practitioner_id] = []
    return [{"practitioner_id": p, "waiting": line} for p, line in queues.items()]


def own_places(queues: list[dict[str, Any]], patient_id: UUID) -> list[dict[str, Any]]:
    """What a patient sees: their own place in each queue they are in, nobody else's."""
    return [
        {"practitioner_id": q["practitioner_id"], **entry}
        for q in queues
        for entry in q["waiting"]
        if entry["patient_id"] == patient_id
    ]
