"""Tamper evidence: every stream is a hash chain, and verification finds the first broken link.

Each test alters stored events the only way anyone can: as the table owner, with the
immutability trigger switched off. It runs in a database of its own, so no other test ever sees
the damage.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from audit_helpers import tamper
from infra import fresh_database

from backend.audit.chain import verify_stream
from backend.eventstore import NO_STREAM, EventStore, NewEvent, StreamAppend
from backend.eventstore.db import connect, create_pool
from backend.settings import with_user

TENANT = uuid.UUID("00000000-0000-4000-8000-0000000000c1")
KIND = "chain-test"


@pytest.fixture
async def owner() -> AsyncIterator[tuple[asyncpg.Connection, EventStore]]:
    async with fresh_database() as dsn:
        pool = await create_pool(with_user(dsn, "caretrail_app"), max_size=2)
        conn = await connect(dsn)
        try:
            yield conn, EventStore(pool)
        finally:
            await conn.close()
            await pool.close()


def _event(n: int) -> NewEvent:
    return NewEvent(
        uuid.uuid4(), "Charted", {"n": n, "note": f"entry {n}"}, dt.datetime.now(dt.UTC)
    )


async def _stream(store: EventStore, events: int, per_append: int = 1) -> uuid.UUID:
    stream_id = uuid.uuid4()
    version = NO_STREAM
    for start in range(0, events, per_append):
        batch = tuple(_event(n) for n in range(start, min(start + per_append, events)))
        await store.append(TENANT, [StreamAppend(KIND, stream_id, version, batch)])
        version += len(batch)
    return stream_id


async def _verify(store: EventStore, stream_id: uuid.UUID) -> tuple[bool, tuple[int, str] | None]:
    async with store.transaction(TENANT) as conn:
        report = await verify_stream(conn, KIND, stream_id)
    broken = report.broken
    return report.valid, None if broken is None else (broken.version, broken.reason)


async def test_an_untouched_stream_verifies_with_events_appended_one_by_one_and_together(
    owner: tuple[asyncpg.Connection, EventStore],
) -> None:
    _, store = owner
    for per_append in (1, 3):
        stream_id = await _stream(store, 7, per_append)
        assert await _verify(store, stream_id) == (True, None)


async def test_changed_content_breaks_its_own_link(
    owner: tuple[asyncpg.Connection, EventStore],
) -> None:
    conn, store = owner
    stream_id = await _stream(store, 5)
    await tamper(
        conn,
        "UPDATE events SET data = jsonb_set(data, '{note}', '\"rewritten\"')"
        " WHERE stream_id = $1 AND version = 3",
        stream_id,
    )
    assert await _verify(store, stream_id) == (False, (3, "hash_mismatch"))


async def test_a_rehashed_change_breaks_the_next_link(
    owner: tuple[asyncpg.Connection, EventStore],
) -> None:
    """The owner rewrites event 2 and recomputes its hash too: event 3 no longer follows."""
    conn, store = owner
    stream_id = await _stream(store, 4)
    await tamper(
        conn,
        "UPDATE events e SET data = '{\"n\": 99}',"
        " hash = event_hash(p.hash, e.event_id, e.tenant_id, e.stream_type, e.stream_id,"
        "   e.version, e.event_type, e.schema_version, '{\"n\": 99}', e.metadata,"
        "   e.occurred_at, e.recorded_at)"
        " FROM events p WHERE e.stream_id = $1 AND e.version = 2"
        " AND p.stream_id = $1 AND p.version = 1",
        stream_id,
    )
    assert await _verify(store, stream_id) == (False, (3, "hash_mismatch"))


async def test_a_removed_event_is_a_missing_version(
    owner: tuple[asyncpg.Connection, EventStore],
) -> None:
    conn, store = owner
    stream_id = await _stream(store, 4)
    await tamper(conn, "DELETE FROM events WHERE stream_id = $1 AND version = 2", stream_id)
    assert await _verify(store, stream_id) == (False, (3, "missing_version"))


async def test_the_runtime_role_cannot_choose_a_hash(
    owner: tuple[asyncpg.Connection, EventStore],
) -> None:
    """The chain is computed by the database on insert, whatever the writer sends."""
    _, store = owner
    stream_id = await _stream(store, 2)
    async with store.transaction(TENANT) as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(
                "INSERT INTO events (event_id, tenant_id, stream_type, stream_id, version,"
                " event_type, data, occurred_at, hash)"
                " VALUES ($1, $2, $3, $4, 3, 'Forged', '{}', now(), '\\x00')",
                uuid.uuid4(),
                TENANT,
                KIND,
                stream_id,
            )
