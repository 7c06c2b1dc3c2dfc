"""Command handlers of the tenancy context: load, decide, append."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from backend.handling import CommandResult, CommandSession
from backend.kernel.errors import Conflict
from backend.tenancy import model
from backend.tenancy.policy import TenantPolicy


async def create_tenant(
    session: CommandSession,
    name: str,
    slug: str,
    opens_before: int,
    closes_after: int,
    kind: str = "clinic",
    currency: str = "USD",
) -> CommandResult:
    """The tenant's row (which owns the globally unique slug) and its first event commit
    together; the session's transaction is already scoped to the new tenant."""
    tenant = await session.load(model.TENANT, session.tenant_id)
    events = model.create_tenant(
        tenant.state, session.tenant_id, name, slug, opens_before, closes_after, kind, currency
    )
    try:
        async with session.conn.transaction():
            await session.conn.execute(
                "INSERT INTO tenants (tenant_id, slug, name) VALUES ($1, $2, $3)",
                session.tenant_id,
                slug,
                name.strip(),
            )
    except asyncpg.UniqueViolationError as e:
        raise Conflict("TENANT_EXISTS", f"a tenant with slug {slug!r} exists") from e
    return await session.save(tenant, events)


async def register_practitioner(
    session: CommandSession, practitioner_id: UUID, name: str, specialty: str | None
) -> CommandResult:
    practitioner = await session.load(model.PRACTITIONER, practitioner_id)
    events = model.register_practitioner(practitioner.state, practitioner_id, name, specialty)
    return await session.save(practitioner, events)


async def change_policy(session: CommandSession, changes: dict[str, Any]) -> CommandResult:
    tenant = await session.load(model.TENANT, session.tenant_id, conditional=True)
    return await session.save(tenant, model.change_policy(tenant.state, changes))


async def policy_of(session: CommandSession) -> TenantPolicy:
    """The policy of the session's tenant, as of this transaction."""
    return (await session.load(model.TENANT, session.tenant_id)).state.policy
