"""Front-desk activity per day: how many appointments were booked, confirmed, cancelled,
checked in, completed and missed on each UTC day (the day the event occurred).

A counter per event type: applying an event twice would count it twice, so this read model is
the proof that both delivery paths apply every event exactly once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from backend.eventstore import RecordedEvent

COUNTED = {
    "AppointmentRequested": "booked",
    "AppointmentConfirmed": "confirmed",
    "AppointmentCancelled": "cancelled",
    "PatientCheckedIn": "checked_in",
    "AppointmentCompleted": "completed",
    "AppointmentMarkedNoShow": "no_show",
}


@dataclass(frozen=True)
class DailyActivity:
    name: str = "daily_activity"
    table: str = "rm_daily_activity"

    async def apply(self, conn: asyncpg.Connection, event: RecordedEvent) -> None:
        column = COUNTED.get(event.event_type)
        if column is None:
            return
        await conn.execute(
            f"INSERT INTO {self.table} (tenant_id, day, {column}) VALUES ($1, $2, 1)"
            f" ON CONFLICT (tenant_id, day) DO UPDATE SET {column} = {self.table}.{column} + 1",
            event.tenant_id,
            event.occurred_at.astimezone(dt.UTC).date(),
        )


DAILY_ACTIVITY = DailyActivity()
