"""Which tenants mark no-shows by themselves, and after how many minutes: the tenant policy's
`no_show_after_min` as it was last changed, one row per tenant that ever set it (null: off).

The scheduling timers (timers.py) join it with the appointments to find the no-shows due across
every tenant without folding each tenant's stream. Applying a change again writes the same
value, so this read model is right however often an event is delivered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from backend.eventstore import RecordedEvent

FIELD = "no_show_after_min"


@dataclass(frozen=True)
class NoShowRules:
    name: str = "no_show_rules"
    table: str = "rm_no_show_rules"

    def wants(self, stream_type: str, event_type: str) -> bool:
        return event_type == "TenantPolicyChanged"

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        latest: dict[UUID, int | None] = {}
        for event in events:
            changes = event.data.get("changes") or {}
            if event.event_type == "TenantPolicyChanged" and FIELD in changes:
                latest[event.tenant_id] = changes[FIELD]
        if latest:
            await conn.executemany(
                f"INSERT INTO {self.table} (tenant_id, grace_min) VALUES ($1, $2)"
                f" ON CONFLICT (tenant_id) DO UPDATE SET grace_min = EXCLUDED.grace_min",
                list(latest.items()),
            )


NO_SHOW_RULES = NoShowRules()
