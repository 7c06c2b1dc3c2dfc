"""Real services for tests: a fresh PostgreSQL database, a Kafka-protocol broker.

TEST_DATABASE_URL names an admin connection (default: the local server at 127.0.0.1:5432). If no
server answers there, an embedded PostgreSQL under .data/test is started instead, so the suite
runs on any machine. The broker is projections.local_broker (tansu, in memory).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx

from backend.eventstore import RecordedEvent
from backend.eventstore.scratch import admin_dsn, scratch_database
from projections.local_broker import free_port, local_kafka_broker

__all__ = ["empty_databases", "free_port", "fresh_database", "kafka_broker", "stored_events"]
kafka_broker = local_kafka_broker


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new, migrated database (TEST_DATABASE_URL's server); its owner DSN."""
    async with scratch_database("TEST_DATABASE_URL", "test", "caretrail_test") as dsn:
        yield dsn


@asynccontextmanager
async def empty_databases(count: int) -> AsyncIterator[list[str]]:
    """New databases with nothing in them (not migrated); their owner DSNs."""
    admin = await admin_dsn("TEST_DATABASE_URL", "test")
    names = [f"caretrail_lock_{uuid.uuid4().hex[:10]}" for _ in range(count)]
    conn = await asyncpg.connect(admin)
    try:
        for name in names:
            await conn.execute(f'CREATE DATABASE "{name}"')
        head, _, tail = admin.partition("?")
        base = head.rsplit("/", 1)[0]
        yield [f"{base}/{name}" + (f"?{tail}" if tail else "") for name in names]
    finally:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


EVENT_COLUMNS = (
    "position, event_id, tenant_id, stream_type, stream_id, version, event_type, schema_version,"
    " data, metadata, occurred_at, recorded_at, tx_id::text::bigint AS tx_id"
)


async def stored_events(pool: Any, condition: str, *args: Any) -> list[RecordedEvent]:
    """Events as stored (sealed fields sealed), across tenants, for a connection or pool of a
    role that reads every tenant's events: those matching `condition`, in global order."""
    rows = await pool.fetch(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE {condition} ORDER BY tx_id, position", *args
    )
    return [RecordedEvent(**dict(r.items())) for r in rows]


def answered(_: httpx.Response) -> bool:
    return True


def not_starting(answer: httpx.Response) -> bool:
    """Past start-up: readiness answers 503 while projections are not running yet."""
    return answer.status_code != 503


def ok(answer: httpx.Response) -> bool:
    return answer.status_code == 200


async def server_answer(
    client: httpx.AsyncClient,
    path: str = "/health/ready",
    *,
    settled: Callable[[httpx.Response], bool] = not_starting,
    seconds: float = 180.0,
    headers: dict[str, str] | None = None,
) -> httpx.Response | None:
    """The first answer of a starting server (`caretrail serve` in a subprocess) to `path` that
    `settled` accepts, asked every 0.1 s while it refuses connections or answers otherwise; the
    last answer (None: it never answered) after `seconds` (a loaded machine imports and migrates
    slowly)."""
    answer = None
    for _ in range(int(seconds * 10)):
        try:
            answer = await client.get(path, headers=headers)
            if settled(answer):
                return answer
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    return answer
