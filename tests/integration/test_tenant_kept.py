"""A process keeps each tenant's own stream folded for its commands: a command whose
transaction begins with the tenant's stream at the kept version decides on the kept state; a
change made through another process (another store) is seen by the next command."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import orjson
import pytest

from backend import handling
from backend.auth.principal import Principal, Role
from backend.eventstore import EventStore
from backend.handling import CommandSession, RequestContext, run_command
from backend.tenancy import service
from backend.tenancy.model import TENANT


def _ctx(tenant: uuid.UUID) -> RequestContext:
    principal = Principal("admin-1", tenant, frozenset({Role.CLINIC_ADMIN}))
    return RequestContext(principal, "req", "corr", dt.datetime.now(dt.UTC))


async def _region(session: CommandSession) -> str:
    return (await session.state_of(TENANT, session.tenant_id)).policy.phone_region


@pytest.fixture
def tenant_folds(monkeypatch: pytest.MonkeyPatch) -> list[uuid.UUID]:
    """The tenant streams commands fold (read from the database)."""
    folded: list[uuid.UUID] = []
    real = handling.fold_stream

    async def counting(conn: asyncpg.Connection, aggregate: Any, stream_id: uuid.UUID) -> Any:
        if aggregate is TENANT:
            folded.append(stream_id)
        return await real(conn, aggregate, stream_id)

    monkeypatch.setattr(handling, "fold_stream", counting)
    return folded


async def test_a_tenants_stream_is_folded_once_until_it_changes_whoever_changes_it(
    app_pool: asyncpg.Pool, tenant_folds: list[uuid.UUID]
) -> None:
    this, other = EventStore(app_pool), EventStore(app_pool)  # two API processes
    tenant = uuid.uuid4()
    slug = f"kept-{tenant.hex[:8]}"

    def run(store: EventStore, handler: Callable[[CommandSession], Any]) -> Any:
        return run_command(store, _ctx(tenant), tenant, handler)

    await run(other, lambda s: service.create_tenant(s, "Kept", slug, 15, 15))
    assert await run(this, _region) == "US"
    assert await run(this, _region) == "US"
    assert tenant_folds.count(tenant) == 2, "created (other), then read once here"

    await run(other, lambda s: service.change_policy(s, {"phone_region": "GB"}))
    assert await run(this, _region) == "GB", "a change through another process is seen"
    assert await run(this, _region) == "GB"
    assert tenant_folds.count(tenant) == 4, "the change (other), then read once more here"


async def test_a_tenant_kept_by_a_worker_is_named_as_each_command_names_it(
    app_pool: asyncpg.Pool, tenant_folds: list[uuid.UUID]
) -> None:
    """Workers take tenant ids from rows, as asyncpg's own UUID type: a tenant's stream kept
    by one of their commands is named by a request's command as the request names it, and its
    answer encodes (it failed with "Type is not JSON serializable" before)."""
    store = EventStore(app_pool)
    tenant = uuid.uuid4()
    from_a_row = await app_pool.fetchval("SELECT $1::uuid", tenant)
    assert type(from_a_row) is not uuid.UUID
    await run_command(
        store,
        _ctx(tenant),
        tenant,
        lambda s: service.create_tenant(s, "W", f"w-{tenant.hex[:8]}", 15, 15),
    )
    await run_command(store, _ctx(tenant), from_a_row, _region)  # a worker's command keeps it

    async def named(session: CommandSession) -> Any:
        return (await session.load(TENANT, session.tenant_id)).stream_id

    assert type(await run_command(store, _ctx(tenant), tenant, named)) is uuid.UUID
    assert tenant_folds.count(tenant) == 2, "created, then read once by the worker's command"
    changed = await run_command(
        store, _ctx(tenant), tenant, lambda s: service.change_policy(s, {"phone_region": "GB"})
    )
    orjson.dumps(changed.body())
