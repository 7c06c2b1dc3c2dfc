"""The tenant's time zone, for reads that take or show a calendar day (the front desk's day, a
practitioner's day, appointments by date): folded from the tenant's stream in the read's own
transaction, so a changed time zone applies to the next read, and to every day already booked
(no stored day goes stale: read models keep instants, and a day is cut from them when read).
A command's "today" (a birth date not after it, an age) is the tenant's day too."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from backend.loading import fold_stream
from backend.tenancy.model import TENANT
from backend.tenancy.policy import TenantPolicy

if TYPE_CHECKING:
    from backend.handling import CommandSession


async def tenant_policy(conn: asyncpg.Connection, tenant_id: UUID) -> TenantPolicy:
    """The tenant's policy as the read's own transaction sees it."""
    return (await fold_stream(conn, TENANT, tenant_id)).state.policy


async def tenant_zone(conn: asyncpg.Connection, tenant_id: UUID) -> ZoneInfo:
    return ZoneInfo((await tenant_policy(conn, tenant_id)).timezone)


async def command_zone(session: CommandSession) -> ZoneInfo:
    """The tenant's time zone, as the command's own session folds it."""
    policy = (await session.state_of(TENANT, session.tenant_id)).policy
    return ZoneInfo(policy.timezone)


async def tenant_today(session: CommandSession) -> dt.date:
    """The command's day in the tenant's time zone (not the UTC one: a clinic ahead of UTC
    registers a baby born on its today while the UTC day is still yesterday)."""
    return session.ctx.now.astimezone(await command_zone(session)).date()
