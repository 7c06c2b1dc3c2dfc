"""Fixtures shared by every test layer: a real PostgreSQL database per test session (see
tests/infra.py), the application connected as the runtime role `caretrail_app` (RLS applies),
the relay as `caretrail_relay`, the projections as `caretrail_projector`, and a Kafka-protocol
broker when a test asks for one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator

import asyncpg
import containers
import httpx
import pytest
from fastapi import FastAPI
from infra import fresh_database, kafka_broker
from support import (
    FAKEPAY_SECRET,
    JWT_SECRET,
    METRICS_TOKEN,
    TEST_MASTER_KEY,
    TenantFixture,
    new_tenant,
)

from backend.bootstrap import Resources, create_app
from backend.eventstore import EventStore
from backend.eventstore.db import create_pool
from backend.privacy import keys
from backend.settings import Settings, with_user

# Every process the suite starts (servers, CLIs) inherits it, so they all open the same data.
os.environ.setdefault("CARETRAIL_MASTER_KEY", TEST_MASTER_KEY)


_CONTAINERS = contextlib.ExitStack()
_RUNNING: list[containers.Containers] = []
_CONTAINER_LINE: list[str] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--containers",
        action="store_true",
        help="run against PostgreSQL, Kafka and Redis containers where Docker is present",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("--containers", default=False):
        return
    absent = containers.docker_engine()
    if absent is not None:
        _CONTAINER_LINE.append(
            f"containers: skipped, no Docker engine here ({absent}); the local services serve"
        )
        return
    _RUNNING.append(_CONTAINERS.enter_context(containers.started()))
    _CONTAINER_LINE.append("containers: PostgreSQL, Kafka and Redis from testcontainers")


def pytest_unconfigure(config: pytest.Config) -> None:
    _CONTAINERS.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _CONTAINER_LINE:  # shown under -q too
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
async def owner_dsn() -> AsyncIterator[str]:
    async with fresh_database() as dsn:
        yield dsn


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
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        CARETRAIL_ENV="test",
        CARETRAIL_CHAIN_HEADS_DIR=str(tmp_path_factory.mktemp("chain-heads")),
        CARETRAIL_JWT_SECRET=JWT_SECRET,
        CARETRAIL_PAYMENT_WEBHOOK_SECRETS={"fakepay": FAKEPAY_SECRET},
        CARETRAIL_METRICS_TOKEN=METRICS_TOKEN,
    )


@pytest.fixture(scope="session", autouse=True)
def master_key(settings: Settings) -> None:
    """Every test may read or write personal data, with or without an app."""
    keys.configure(settings.master_key_bytes)


@pytest.fixture(scope="session")
async def app(
    settings: Settings,
    owner_dsn: str,
    app_pool: asyncpg.Pool,
    store: EventStore,
    projector_pool: asyncpg.Pool,
) -> AsyncIterator[FastAPI]:
    """The application, started (tests may swap adapters on app.state, e.g. the gateway)."""
    app = create_app(settings, Resources(owner_dsn, app_pool, store, projector_pool))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP through the whole ASGI app (middleware, auth, routing, errors)."""
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
    if _RUNNING:
        yield _RUNNING[0].kafka_bootstrap
        return
    with kafka_broker() as bootstrap:
        yield bootstrap
