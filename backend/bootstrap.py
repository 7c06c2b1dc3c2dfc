"""All wiring in one place: settings → database → store → FastAPI app.

Tests call `create_app` with resources they opened themselves; `make run` lets the lifespan open
them (embedded PostgreSQL when DATABASE_URL is unset, migrations, pools).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog
from fastapi import FastAPI, Request
from starlette.responses import Response

from backend.admissions import queries as admission_queries
from backend.admissions.router import router as admissions_router
from backend.api import health, metrics, problems, projections_status, temporal
from backend.api.middleware import RequestLogMiddleware
from backend.api.openapi import openapi_builder
from backend.audit.router import router as audit_router
from backend.billing.gateway import FakeGateway
from backend.billing.reads import router as billing_reads_router
from backend.billing.router import router as billing_router
from backend.billing.webhook import router as payments_router
from backend.encounters.router import router as visits_router
from backend.eventstore import EventStore
from backend.eventstore.db import create_pool
from backend.eventstore.embedded import start_embedded, stop_embedded
from backend.eventstore.migrate import upgrade_to_head
from backend.eventstore.snapshots import SnapshotPolicy
from backend.frontdesk.router import router as front_desk_router
from backend.notifications.router import router as notifications_router
from backend.patients.router import router as patients_router
from backend.plugins import registry as plugin_registry
from backend.plugins.router import router as plugins_router
from backend.privacy import keys
from backend.reactions.router import router as reactions_router
from backend.reactions.workers import Workers
from backend.scheduling.router import router as scheduling_router
from backend.settings import Settings
from backend.tenancy.router import router as tenancy_router
from projections import read_models
from projections.service import ProjectionService

log = structlog.get_logger("caretrail")


@dataclass
class Resources:
    owner_dsn: str
    pool: asyncpg.Pool
    store: EventStore
    projector_pool: asyncpg.Pool


async def open_resources(settings: Settings) -> Resources:
    owner_dsn = settings.database_url or await start_embedded(settings.data_dir)
    if settings.database_url is None:
        log.info("embedded_postgres", data_dir=settings.data_dir)
    await upgrade_to_head(owner_dsn)
    pool = await create_pool(settings.runtime_dsn(owner_dsn), max_size=settings.pool_size)
    projector_pool = await create_pool(
        settings.projector_dsn(owner_dsn), min_size=1, max_size=read_models.projector_pool_size()
    )
    store = EventStore(pool, SnapshotPolicy(settings.snapshot_every))
    return Resources(owner_dsn, pool, store, projector_pool)


def create_app(settings: Settings, resources: Resources | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = resources or await open_resources(settings)
        app.state.pool = opened.pool
        app.state.store = opened.store
        app.state.projector_pool = opened.projector_pool
        projections = ProjectionService(opened.projector_pool, read_models.ALL)
        app.state.projections = projections
        if settings.kafka_bootstrap_servers is None:
            await projections.start()
        # Reactions read the store itself, so they run here with or without Kafka.
        workers = Workers(settings, opened.projector_pool, opened.store)
        app.state.workers = workers
        if settings.reactions_in_api:
            await workers.start()
        if settings.uses_dev_secret:
            log.warning("dev_jwt_secret", detail="CARETRAIL_JWT_SECRET unset; dev secret in use")
        try:
            yield
        finally:
            await workers.stop()
            await projections.stop()
            if resources is None:
                await opened.pool.close()
                await opened.projector_pool.close()
                if settings.database_url is None:
                    await asyncio.to_thread(stop_embedded)

    app = FastAPI(
        title="Caretrail",
        version="0.1.0",
        description="Event-sourced clinical platform API. Errors are RFC 9457 problem+json.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    keys.configure(settings.master_key_bytes)
    app.state.gateway = FakeGateway(settings.payment_webhook_secrets)
    plugins = plugin_registry.PluginRegistry(
        Path(settings.plugins_dir) if settings.plugins_dir else plugin_registry.DEFAULT_DIR
    )
    plugins.reload()
    plugin_registry.install(plugins)
    problems.install(app)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled", path=request.url.path)
        # This response leaves through Starlette's outermost error middleware, outside ours.
        request_id = getattr(request.state, "request_id", "")
        return problems.problem(
            500,
            "INTERNAL_ERROR",
            "an unexpected error occurred",
            headers={"X-Request-ID": request_id},
        )

    for router in (
        health.router,
        tenancy_router,
        patients_router,
        scheduling_router,
        visits_router,
        admissions_router,
        admission_queries.router,
        notifications_router,
        reactions_router,
        billing_router,
        billing_reads_router,
        payments_router,
        front_desk_router,
        plugins_router,
    ):
        app.include_router(router)
    app.include_router(temporal.router)
    app.include_router(audit_router)
    app.include_router(projections_status.router)
    app.include_router(metrics.router)
    app.add_middleware(RequestLogMiddleware)
    app.openapi = openapi_builder(app)  # type: ignore[method-assign]
    return app
