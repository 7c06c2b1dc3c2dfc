"""Command handlers of the tenancy context: load, decide, append."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from uuid import UUID

import asyncpg

from backend.api.versions import VERSIONS
from backend.auth import api_keys as credentials
from backend.handling import CommandResult, CommandSession, Loaded
from backend.kernel.errors import Conflict
from backend.kernel.events import DomainEvent
from backend.tenancy import api_keys, model, policy
from backend.tenancy.events import ApiKeyCreated, TenantPolicyChanged


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
    """`practitioner_id` is new (the route makes it)."""
    practitioner = session.new(model.PRACTITIONER, practitioner_id)
    events = model.register_practitioner(practitioner.state, practitioner_id, name, specialty)
    return await session.save(practitioner, events)


async def change_policy(session: CommandSession, changes: dict[str, Any]) -> CommandResult:
    """A change of the API rate limits is copied, in the same transaction, to where
    authenticating a key reads them (backend/auth/api_keys.py)."""
    tenant = await session.load(model.TENANT, session.tenant_id, conditional=True)
    events = model.change_policy(tenant.state, changes)
    for event in events:
        assert isinstance(event, TenantPolicyChanged)
        if policy.RATE_LIMITS & set(event.changes):
            after = policy.apply(tenant.state.policy, event.changes)
            await credentials.set_tenant_limits(
                session.conn,
                session.tenant_id,
                after.api_rate_limit_per_minute,
                after.api_tenant_rate_limit_per_minute,
            )
    return await session.save(tenant, events)


async def create_api_key(
    session: CommandSession,
    key_id: UUID,
    name: str,
    scopes: list[str],
    api_version: str,
    expires_at: dt.datetime | None,
    rate_limit_per_minute: int | None,
) -> CommandResult:
    """The key's digest is stored in the transaction that records it; its secret is shown in
    this response only (a replay of the request answers without it)."""
    tenant = await session.load(model.TENANT, session.tenant_id)
    now = session.ctx.now
    events = api_keys.create(
        tenant.state.api_keys,
        key_id,
        name,
        scopes,
        api_version,
        VERSIONS,
        expires_at,
        rate_limit_per_minute,
        now,
    )
    [created] = events
    assert isinstance(created, ApiKeyCreated)
    secret = credentials.new_secret(key_id)
    await credentials.store(session.conn, session.tenant_id, created, secret.digest)
    return await _saved(session, tenant, events, key_id, secret.key)


async def rotate_api_key(
    session: CommandSession, key_id: UUID, overlap: dt.timedelta
) -> CommandResult:
    tenant = await session.load(model.TENANT, session.tenant_id)
    events = api_keys.rotate(tenant.state.api_keys, key_id, overlap, session.ctx.now)
    secret = credentials.new_secret(key_id)
    await credentials.rotate(session.conn, key_id, secret.digest, session.ctx.now + overlap)
    return await _saved(session, tenant, events, key_id, secret.key)


async def revoke_api_key(session: CommandSession, key_id: UUID) -> CommandResult:
    tenant = await session.load(model.TENANT, session.tenant_id)
    events = api_keys.revoke(tenant.state.api_keys, key_id, session.ctx.now)
    if events:
        await credentials.revoke(session.conn, key_id, session.ctx.now)
    return await _saved(session, tenant, events, key_id, None)


async def _saved(
    session: CommandSession,
    tenant: Loaded[model.Tenant],
    events: list[DomainEvent],
    key_id: UUID,
    secret: str | None,
) -> CommandResult:
    """The response is the key as listed (never a digest), and its new secret if there is one;
    its `id` is the key's (`version` and `position` are the tenant stream's)."""
    result = await session.save(tenant, events)
    keys = tenant.state.api_keys
    for event in events:
        keys = api_keys.with_key_event(keys, event)
    key = api_keys.listed(api_keys.find(keys, key_id), None, session.ctx.now)
    shown = None if secret is None else {"key": secret}
    return dataclasses.replace(result, id=key_id, view=key, shown_once=shown)
