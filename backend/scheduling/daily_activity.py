"""Front-desk activity per day: how many appointments were booked, confirmed, cancelled,
checked in, completed and missed on each UTC day (the day the event occurred).

A counter per event type: applying an event twice would count it twice, so this read model is
the proof that both delivery paths apply every event exactly once.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

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

    def wants(self, stream_type: str, event_type: str) -> bool:
        return event_type in COUNTED

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        counts: Counter[tuple[UUID, dt.date, str]] = Counter()
        for event in events:
            column = COUNTED.get(event.event_type)
            if column is not None:
                counts[event.tenant_id, event.occurred_at.astimezone(dt.UTC).date(), column] += 1
        for column in sorted({c for _, _, c in counts}):
            await conn.executemany(
                f"INSERT INTO {self.table} (tenant_id, day, {column}) VALUES ($1, $2, $3)"
                f" ON CONFLICT (tenant_id, day) DO UPDATE"
                f" SET {column} = {self.table}.{column} + EXCLUDED.{column}",
                [(t, d, n) for (t, d, c), n in counts.items() if c == column],
            )


DAILY_ACTIVITY = DailyActivity()
