"""The waitlist read model: one row per entry, with the last slot offered to it. The
scheduling timers (timers.py) find open offers past their window here; the stream decides."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from backend.eventstore import RecordedEvent
from backend.kernel.events import revive
from backend.scheduling.waitlist import (
    WAITLIST,
    WaitlistJoined,
    WaitlistLeft,
    WaitlistOfferAccepted,
    WaitlistOfferExpired,
    WaitlistSlotOffered,
)


@dataclass(frozen=True)
class WaitlistEntries:
    name: str = "waitlist"
    table: str = "rm_waitlist"

    def wants(self, stream_type: str, event_type: str) -> bool:
        return stream_type == WAITLIST.stream_type

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            if recorded.stream_type == WAITLIST.stream_type:
                await self._apply(conn, recorded)

    async def _apply(self, conn: asyncpg.Connection, recorded: RecordedEvent) -> None:
        tenant, t = recorded.tenant_id, self.table
        match revive(recorded):
            case WaitlistJoined() as e:
                await conn.execute(
                    f"INSERT INTO {t} (tenant_id, entry_id, practitioner_id, patient_id,"
                    " from_date, to_date, joined_at, position, status)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'waiting')",
                    tenant,
                    e.entry_id,
                    e.practitioner_id,
                    e.patient_id,
                    e.from_date,
                    e.to_date,
                    recorded.occurred_at,
                    recorded.position,
                )
            case WaitlistLeft() as e:
                await conn.execute(
                    f"UPDATE {t} SET status = 'left', offer_status = CASE offer_status"
                    " WHEN 'open' THEN 'withdrawn' ELSE offer_status END"
                    " WHERE tenant_id = $1 AND entry_id = $2",
                    tenant,
                    e.entry_id,
                )
            case WaitlistSlotOffered() as e:
                await conn.execute(
                    f"UPDATE {t} SET status = 'offered', offer_id = $3, offer_start = $4,"
                    " offer_end = $5, offer_expires_at = $6, offer_status = 'open',"
                    " appointment_id = NULL WHERE tenant_id = $1 AND entry_id = $2",
                    tenant,
                    e.entry_id,
                    e.offer_id,
                    e.start,
                    e.end,
                    e.expires_at,
                )
            case WaitlistOfferExpired() as e:
                await conn.execute(
                    f"UPDATE {t} SET status = 'waiting', offer_status = 'expired'"
                    " WHERE tenant_id = $1 AND offer_id = $2",
                    tenant,
                    e.offer_id,
                )
            case WaitlistOfferAccepted() as e:
                await conn.execute(
                    f"UPDATE {t} SET status = 'booked', offer_status = 'accepted',"
                    " appointment_id = $3 WHERE tenant_id = $1 AND offer_id = $2",
                    tenant,
                    e.offer_id,
                    e.appointment_id,
                )

    def view_of(self, row: asyncpg.Record) -> dict[str, Any]:
        offer = None
        if row["offer_id"] is not None:
            offer = {
                "id": row["offer_id"],
                "start": row["offer_start"],
                "end": row["offer_end"],
                "expires_at": row["offer_expires_at"],
                "status": row["offer_status"],
                "appointment_id": row["appointment_id"],
            }
        return {
            "id": row["entry_id"],
            "practitioner_id": row["practitioner_id"],
            "patient_id": row["patient_id"],
            "from_date": row["from_date"],
            "to_date": row["to_date"],
            "joined_at": row["joined_at"],
            "status": row["status"],
            "offer": offer,
        }


WAITLIST_ENTRIES = WaitlistEntries()
