"""Tenant isolation and immutability enforced by PostgreSQL itself, not by the application.

Everything here connects as the database roles directly: the runtime role `caretrail_app` (RLS
applies), the relay role `caretrail_relay`, and the owner (a superuser in the test cluster).
There is no `streams` table: stream versions live in `events` (see docs/architecture.md).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from backend.eventstore import NO_STREAM, EventStore, NewEvent, StreamAppend
from backend.eventstore.db import connect

TABLES = ("tenants", "events", "idempotency_keys")
SET_TENANT = "SELECT set_config('app.tenant_id', $1, true)"
STREAM_TYPE = "rls-test"


@dataclass(frozen=True)
class TwoTenants:
    a: uuid.UUID
    b: uuid.UUID
    a_event: uuid.UUID


def new_event() -> NewEvent:
    return NewEvent(uuid.uuid4(), "Isolated", {"secret": 1}, dt.datetime.now(dt.UTC))


async def insert_row(conn: asyncpg.Connection, table: str, tenant: uuid.UUID) -> None:
    """Insert one fresh row owned by `tenant` into `table`, with the runtime role's grants."""
    if table == "tenants":
        await conn.execute(
            "INSERT INTO tenants (tenant_id, slug, name) VALUES ($1, $2, 'RLS clinic')",
            tenant,
            f"rls-{uuid.uuid4().hex[:12]}",
        )
    elif table == "events":
        await conn.execute(
            "INSERT INTO events (event_id, tenant_id, stream_type, stream_id, version,"
            " event_type, data, occurred_at) VALUES ($1, $2, $3, $4, 1, 'Isolated', $5, now())",
            uuid.uuid4(),
            tenant,
            STREAM_TYPE,
            uuid.uuid4(),
            {"secret": 1},
        )
    else:
        await conn.execute(
            "INSERT INTO idempotency_keys (tenant_id, actor, key, request_hash, status_code,"
            " response) VALUES ($1, 'rls-tester', $2, 'hash', 201, $3)",
            tenant,
            uuid.uuid4().hex,
            {"ok": True},
        )


@pytest.fixture(scope="module")
async def tenants(store: EventStore, app_dsn: str) -> TwoTenants:
    """Tenants A and B, each with a tenants row, events and an idempotency key."""
    a, b = uuid.uuid4(), uuid.uuid4()
    a_event = new_event()
    conn = await connect(app_dsn)
    try:
        for tenant in (a, b):
            event = a_event if tenant == a else new_event()
            await store.append(
                tenant, [StreamAppend(STREAM_TYPE, uuid.uuid4(), NO_STREAM, (event, new_event()))]
            )
            async with conn.transaction():
                await conn.execute(SET_TENANT, str(tenant))
                await insert_row(conn, "tenants", tenant)
                await insert_row(conn, "idempotency_keys", tenant)
    finally:
        await conn.close()
    return TwoTenants(a, b, a_event.event_id)


@pytest.fixture
async def app_conn(app_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(app_dsn)
    yield conn
    await conn.close()


@pytest.fixture
async def owner_conn(owner_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(owner_dsn)
    yield conn
    await conn.close()


async def tenant_ids(conn: asyncpg.Connection, table: str) -> list[uuid.UUID]:
    return [r["tenant_id"] for r in await conn.fetch(f"SELECT tenant_id FROM {table}")]


# The roles and tables are set up so that RLS cannot be bypassed.


@pytest.mark.parametrize("role", ["caretrail_app", "caretrail_relay"])
async def test_the_runtime_roles_cannot_bypass_rls(app_dsn: str, relay_dsn: str, role: str) -> None:
    conn = await connect(app_dsn if role == "caretrail_app" else relay_dsn)
    try:
        assert await conn.fetchval("SELECT current_user") == role
        attrs = await conn.fetchrow(
            "SELECT rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = $1", role
        )
        assert dict(attrs) == {"rolsuper": False, "rolbypassrls": False, "rolcreaterole": False}
        owners = await conn.fetch(
            "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'"
        )
        assert {r["tablename"] for r in owners} >= set(TABLES)
        assert all(r["tableowner"] != role for r in owners)
    finally:
        await conn.close()


async def test_every_table_with_a_tenant_id_has_rls_enabled_and_forced(
    owner_conn: asyncpg.Connection,
) -> None:
    """FORCE makes the policy apply to the table owner too; a table added later with a
    tenant_id column but without RLS fails here."""
    rows = await owner_conn.fetch(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
        " (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind = 'r' AND EXISTS ("
        "   SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'"
        "   AND NOT a.attisdropped)"
    )
    by_name = {r["relname"]: r for r in rows}
    assert set(by_name) >= set(TABLES)
    for name, r in by_name.items():
        assert r["relrowsecurity"] and r["relforcerowsecurity"], name
        assert r["policies"] >= 1, name


# Reads: a tenant sees its own rows, no tenant sees nothing.


@pytest.mark.parametrize("table", TABLES)
async def test_a_tenant_sees_only_its_own_rows(
    tenants: TwoTenants, app_conn: asyncpg.Connection, table: str
) -> None:
    for me in (tenants.a, tenants.b):
        async with app_conn.transaction():
            await app_conn.execute(SET_TENANT, str(me))
            seen = await tenant_ids(app_conn, table)
        assert seen and set(seen) == {me}


@pytest.mark.parametrize("table", TABLES)
async def test_without_a_tenant_no_rows_are_visible(
    tenants: TwoTenants,
    app_conn: asyncpg.Connection,
    owner_conn: asyncpg.Connection,
    table: str,
) -> None:
    # The rows exist (the owner is a superuser here, so RLS does not apply to it).
    assert {tenants.a, tenants.b} <= set(await tenant_ids(owner_conn, table))

    assert await tenant_ids(app_conn, table) == []
    async with app_conn.transaction():
        await app_conn.execute(SET_TENANT, "")
        assert await tenant_ids(app_conn, table) == []


@pytest.mark.parametrize("table", TABLES)
async def test_the_tenant_setting_does_not_outlive_its_transaction(
    tenants: TwoTenants, app_conn: asyncpg.Connection, table: str
) -> None:
    """Pools release connections without RESET ALL, which is safe only because the tenant is
    set transaction-locally: the next use of the connection must see nothing."""
    async with app_conn.transaction():
        await app_conn.execute(SET_TENANT, str(tenants.a))
        assert await tenant_ids(app_conn, table)

    assert await tenant_ids(app_conn, table) == []
    assert await app_conn.fetchval("SELECT current_setting('app.tenant_id', true)") in (None, "")


# Writes: only for the tenant that is set.


@pytest.mark.parametrize("table", TABLES)
async def test_writing_a_row_for_another_tenant_is_refused(
    tenants: TwoTenants, app_conn: asyncpg.Connection, table: str
) -> None:
    async with app_conn.transaction():
        await app_conn.execute(SET_TENANT, str(tenants.a))
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await insert_row(app_conn, table, tenants.b)


@pytest.mark.parametrize("table", TABLES)
async def test_writing_a_row_without_a_tenant_is_refused(
    tenants: TwoTenants, app_conn: asyncpg.Connection, table: str
) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        await insert_row(app_conn, table, tenants.a)


async def test_idempotency_keys_are_updated_within_their_tenant_only(
    tenants: TwoTenants, app_conn: asyncpg.Connection
) -> None:
    """The runtime role may UPDATE idempotency keys (erasure tombstones, reuse after expiry):
    not another tenant's, and not into another tenant."""
    async with app_conn.transaction():
        await app_conn.execute(SET_TENANT, str(tenants.a))
        touched = await app_conn.execute(
            "UPDATE idempotency_keys SET status_code = 410 WHERE tenant_id = $1", tenants.b
        )
        assert touched == "UPDATE 0"
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await app_conn.execute(
                "UPDATE idempotency_keys SET tenant_id = $1 WHERE tenant_id = $2",
                tenants.b,
                tenants.a,
            )


class _Rollback(Exception):
    pass


@pytest.mark.parametrize("table", TABLES)
async def test_writing_a_row_for_the_current_tenant_is_allowed(
    app_conn: asyncpg.Connection, table: str
) -> None:
    """The control for the refusals above (rolled back, so it leaves nothing behind)."""
    fresh = uuid.uuid4()  # tenants holds one row per tenant
    with pytest.raises(_Rollback):
        async with app_conn.transaction():
            await app_conn.execute(SET_TENANT, str(fresh))
            await insert_row(app_conn, table, fresh)
            assert await tenant_ids(app_conn, table) == [fresh]
            raise _Rollback
    async with app_conn.transaction():
        await app_conn.execute(SET_TENANT, str(fresh))
        assert await tenant_ids(app_conn, table) == []


# Events are immutable, for the runtime role and the owner alike.


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET event_type = 'Tampered' WHERE event_id = $1",
        "DELETE FROM events WHERE event_id = $1",
        "TRUNCATE events",
    ],
    ids=["update", "delete", "truncate"],
)
async def test_the_runtime_role_has_no_privilege_to_change_events(
    tenants: TwoTenants, app_conn: asyncpg.Connection, statement: str
) -> None:
    args = (tenants.a_event,) if "$1" in statement else ()
    async with app_conn.transaction():
        await app_conn.execute(SET_TENANT, str(tenants.a))
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await app_conn.execute(statement, *args)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET event_type = 'Tampered' WHERE event_id = $1",
        "DELETE FROM events WHERE event_id = $1",
        "TRUNCATE events",
    ],
    ids=["update", "delete", "truncate"],
)
async def test_the_owner_is_refused_by_the_immutability_trigger(
    tenants: TwoTenants, owner_conn: asyncpg.Connection, store: EventStore, statement: str
) -> None:
    args = (tenants.a_event,) if "$1" in statement else ()
    # Always rolled back: should the trigger be missing, nothing is lost for the other tests.
    tx = owner_conn.transaction()
    await tx.start()
    try:
        await owner_conn.execute(SET_TENANT, str(tenants.a))
        visible = "SELECT count(*) FROM events WHERE event_id = $1"
        assert await owner_conn.fetchval(visible, tenants.a_event) == 1
        with pytest.raises(asyncpg.PostgresError, match="events are immutable") as raised:
            await owner_conn.execute(statement, *args)
        assert raised.value.sqlstate == "CT403"
    finally:
        await tx.rollback()

    async with store.transaction(tenants.a) as conn:
        row = await conn.fetchrow(
            "SELECT event_type FROM events WHERE event_id = $1", tenants.a_event
        )
    assert row is not None and row["event_type"] == "Isolated"


@pytest.mark.parametrize(
    ("column", "value"),
    [("recorded_at", "now() - interval '1 day'"), ("tx_id", "'1'::xid8")],
)
async def test_the_runtime_role_cannot_choose_recorded_at_or_tx_id(
    tenants: TwoTenants, app_conn: asyncpg.Connection, column: str, value: str
) -> None:
    async with app_conn.transaction():
        await app_conn.execute(SET_TENANT, str(tenants.a))
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await app_conn.execute(
                "INSERT INTO events (event_id, tenant_id, stream_type, stream_id, version,"
                f" event_type, data, occurred_at, {column})"
                f" VALUES ($1, $2, 'rls-test', $3, 1, 'Isolated', '{{}}', now(), {value})",
                uuid.uuid4(),
                tenants.a,
                uuid.uuid4(),
            )


# The relay reads every tenant's events and can do nothing else.


async def test_the_relay_reads_the_events_of_every_tenant(
    tenants: TwoTenants, relay_pool: asyncpg.Pool
) -> None:
    rows = await relay_pool.fetch(
        "SELECT DISTINCT tenant_id FROM events WHERE tenant_id = ANY($1)", [tenants.a, tenants.b]
    )
    assert {r["tenant_id"] for r in rows} == {tenants.a, tenants.b}


@pytest.mark.parametrize("table", ["tenants", "idempotency_keys"])
async def test_the_relay_cannot_read_other_tables(
    tenants: TwoTenants, relay_pool: asyncpg.Pool, table: str
) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
        await relay_pool.fetch(f"SELECT tenant_id FROM {table}")


async def test_the_relay_cannot_write_events(
    tenants: TwoTenants, relay_dsn: str, relay_pool: asyncpg.Pool
) -> None:
    conn = await connect(relay_dsn)
    try:
        async with conn.transaction():
            await conn.execute(SET_TENANT, str(tenants.a))
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await insert_row(conn, "events", tenants.a)
        # Nor through append_events (EXECUTE is granted to PUBLIC by default, but the function
        # runs with the caller's privileges).
        relay_store = EventStore(relay_pool)
        stream = uuid.uuid4()
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await relay_store.append(
                tenants.a, [StreamAppend(STREAM_TYPE, stream, NO_STREAM, (new_event(),))]
            )
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await conn.execute(
                "UPDATE events SET event_type = 'Tampered' WHERE event_id = $1", tenants.a_event
            )
    finally:
        await conn.close()
