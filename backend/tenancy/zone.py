"""The tenant's time zone, for reads that take or show a calendar day (the front desk's day, a
practitioner's day, appointments by date): folded from the tenant's stream in the read's own
transaction, so a changed time zone applies to the next read, and to every day already booked
(no stored day goes stale: read models keep instants, and a day is cut from them when read)."""

from __future__ import annotations

from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from backend.loading import fold_stream
from backend.tenancy.model import TENANT


async def tenant_zone(conn: asyncpg.Connection, tenant_id: UUID) -> ZoneInfo:
    tenant = await fold_stream(conn, TENANT, tenant_id)
    return ZoneInfo(tenant.state.policy.timezone)
