"""Fixtures of the end-to-end tests beyond the suite's own (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from backend.api.problems import ApiError
from backend.bootstrap import Resources, create_app
from backend.eventstore import EventStore
from backend.settings import Settings


@pytest.fixture(scope="module")
async def server(
    settings: Settings,
    owner_dsn: str,
    app_pool: asyncpg.Pool,
    store: EventStore,
    projector_pool: asyncpg.Pool,
) -> AsyncIterator[httpx.AsyncClient]:
    """The application with two routes that fail as a bug and as an outage do, behind a client
    that, as a real server does, lets no exception reach the caller, only the response."""
    app = create_app(settings, Resources(owner_dsn, app_pool, store, projector_pool))

    @app.get("/_boom", include_in_schema=False)
    async def boom() -> None:
        raise RuntimeError("kaboom")

    @app.get("/_lagging", include_in_schema=False)
    async def lagging() -> None:
        raise ApiError(503, "PROJECTION_LAGGING", "behind", headers={"Retry-After": "1"})

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c
