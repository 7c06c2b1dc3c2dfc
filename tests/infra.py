"""Real services for tests: a fresh PostgreSQL database, a Kafka-protocol broker.

TEST_DATABASE_URL names an admin connection (default: the local server at 127.0.0.1:5432). If no
server answers there, an embedded PostgreSQL under .data/test is started instead, so the suite
runs on any machine. The broker is projections.local_broker (tansu, in memory).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from backend.eventstore.migrate import upgrade_to_head
from projections.local_broker import free_port, local_kafka_broker

__all__ = ["free_port", "fresh_database", "kafka_broker"]
kafka_broker = local_kafka_broker

ROOT = Path(__file__).resolve().parents[1]


async def _admin_dsn() -> str:
    dsn = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        conn = await asyncpg.connect(dsn, timeout=3)
        await conn.close()
        return dsn
    except (OSError, asyncpg.PostgresError, TimeoutError):
        if "TEST_DATABASE_URL" in os.environ:
            raise
    from backend.eventstore.embedded import start_embedded

    embedded = await start_embedded(str(ROOT / ".data" / "test"))
    return embedded.replace("/caretrail?", "/postgres?", 1)


def _database_dsn(admin_dsn: str, name: str) -> str:
    head, _, tail = admin_dsn.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{tail}" if tail else "")


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new, migrated database; its owner DSN. Dropped afterwards."""
    admin = await _admin_dsn()
    name = f"caretrail_test_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    dsn = _database_dsn(admin, name)
    try:
        await upgrade_to_head(dsn)
        yield dsn
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
