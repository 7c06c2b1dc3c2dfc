"""All wiring in one place: settings → database → store → FastAPI app, and what every other
process (backend/processes.py, the CLIs) builds itself from: `configure` and `open_resources`.

Tests call `create_app` with resources they opened themselves; `make run` lets the lifespan open
them (embedded PostgreSQL when DATABASE_URL is unset, migrations, pools).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import jwt
import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from backend import catalog, observability
from backend.api import problems
from backend.api.http_metrics import HttpMetrics
from backend.api.key_changes import KeyChanges
from backend.api.limits import RequestLimitMiddleware
from backend.api.middleware import RequestLogMiddleware
from backend.api.openapi import openapi_builder
from backend.api.progress import ProgressWatch
from backend.api.rate_limits import RateLimiter
from backend.api.versioning import VersionMiddleware
from backend.audit.heads import HeadBook
from backend.auth.tokens import TokenVerifier
from backend.auth.verified_keys import VerifiedKeys
from backend.billing.gateway import FakeGateway
from backend.eventstore import EventStore, marks
from backend.eventstore.db import create_pool
from backend.eventstore.embedded import start_embedded, stop_embedded
from backend.eventstore.migrate import upgrade_to_head
from backend.eventstore.signal import AppendSignal
from backend.eventstore.snapshots import SnapshotPolicy
from backend.frontdesk.queue_feed import QueueFeed
from backend.privacy import keys
from backend.settings import Settings
from backend.specialties import registry as plugin_registry
from backend.specialties.calculators import CalculatorWorkers
from backend.start_up import freeze_start_up
from backend.webhooks.addresses import OutboundRules
from backend.workers import Workers
from projections import mode as projection_mode
from projections.catchup import BatchFeed
from projections.service import ProjectionService

log = structlog.get_logger("caretrail")

WEB_APP_READS = (
    "ETag",
    "X-Projection-Position",
    "X-Request-ID",
    "Retry-After",
    "Idempotent-Replayed",
)
"""Response headers a browser app on another origin may read (CORS hides the rest)."""


@dataclass
class Resources:
    owner_dsn: str
    pool: asyncpg.Pool
    store: EventStore
    projector_pool: asyncpg.Pool


def configure(settings: Settings) -> plugin_registry.PluginRegistry:
    """What every process shares, from the same settings: the master key that opens personal
    data, the chain key that marks and links events, and the specialty plugins (with their
    calculator workers) the commands capture with. Close the registry's workers when the
    process ends."""
    keys.configure(settings.master_key_bytes)
    marks.configure(settings.chain_key_bytes)
    plugins = plugin_registry.PluginRegistry(
        Path(settings.plugins_dir) if settings.plugins_dir else plugin_registry.DEFAULT_DIR,
        CalculatorWorkers(settings.calculator_budget_seconds, settings.calculator_workers),
    )
    plugins.reload()
    plugin_registry.install(plugins)
    return plugins


async def open_resources(settings: Settings, *, migrate: bool = True) -> Resources:
    """The database (migrated unless `migrate` is false: a command that only reads status),
    and the pools and store every process that runs commands or projections uses (the API,
    `caretrail reactions run`)."""
    owner_dsn = await owner_database(settings)
    if migrate:
        await upgrade_to_head(owner_dsn, settings.projector_dsn(owner_dsn))
    pool = await create_pool(settings.runtime_dsn(owner_dsn), max_size=settings.pool_size)
    projector_pool = await create_pool(
        settings.projector_dsn(owner_dsn), min_size=1, max_size=catalog.projector_pool_size()
    )
    store = EventStore(pool, SnapshotPolicy(settings.snapshot_every))
    return Resources(owner_dsn, pool, store, projector_pool)


async def _claim_mode(pool: asyncpg.Pool, settings: Settings) -> None:
    """Refuse to start (the lifespan fails) in the other projection mode than the database's."""
    try:
        await projection_mode.claim(
            pool, projection_mode.of(settings.kafka_bootstrap_servers), "caretrail serve"
        )
    except projection_mode.ModeMismatch as e:
        log.error("projection_mode_mismatch", detail=str(e))
        raise


async def _close_resources(opened: Resources, settings: Settings) -> None:
    await opened.pool.close()
    await opened.projector_pool.close()
    if settings.database_url is None:
        await asyncio.to_thread(stop_embedded)


async def owner_database(settings: Settings) -> str:
    """The owner DSN: DATABASE_URL, or in dev the embedded server under data_dir, started."""
    if settings.database_url is not None:
        return settings.database_url
    settings.require_database_outside_dev()
    log.info("embedded_postgres", data_dir=settings.data_dir)
    return await start_embedded(settings.data_dir)


def token_verifier(settings: Settings) -> TokenVerifier:
    """The rules every bearer token is held to (backend/auth/tokens.py)."""
    jwks = None
    if settings.jwt_jwks_url:
        jwks = jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True, lifespan=300, timeout=5)
    return TokenVerifier(
        settings.effective_jwt_secret,
        settings.jwt_audience,
        settings.jwt_issuer,
        settings.jwt_max_lifetime_seconds,
        jwks,
    )


def create_app(settings: Settings, resources: Resources | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """Each part is stopped by the exit stack in the reverse order of its start, also when
        start-up fails half way (a refused projection mode, an unreachable database): nothing
        left running keeps the process from exiting."""
        async with AsyncExitStack() as stack:
            stack.push_async_callback(app.state.queue_feed.close)
            stack.push_async_callback(app.state.key_changes.close)
            stack.push_async_callback(app.state.rate_limiter.close)
            stack.push_async_callback(plugins.workers.close)
            opened = resources or await open_resources(settings)
            if resources is None:
                stack.push_async_callback(_close_resources, opened, settings)
            await _claim_mode(opened.projector_pool, settings)
            app.state.pool = opened.pool
            app.state.store = opened.store
            app.state.projector_pool = opened.projector_pool
            applied = AppendSignal()
            partitions = settings.kafka_partitions if settings.kafka_bootstrap_servers else None
            in_process = partitions is None
            feed = BatchFeed() if in_process and settings.reactions_in_api else None
            projections = ProjectionService(
                opened.projector_pool,
                catalog.READ_MODELS,
                group="projections",
                signal=opened.store.appended,
                applied=applied,
                partitions=partitions,
                feed=feed,
                durable=False,  # read models: see CatchUpGroup
            )
            app.state.progress = ProgressWatch(opened.projector_pool, partitions, applied)
            await app.state.key_changes.start()
            await app.state.queue_feed.start()
            app.state.projections = projections
            app.state.master_key_problem = await keys.master_key_problem(opened.projector_pool)
            stack.push_async_callback(projections.stop)
            if app.state.master_key_problem:
                # Unready, and nothing runs that would read personal data: projections would park.
                log.error("master_key_wrong", detail=app.state.master_key_problem)
            elif in_process:
                await projections.start()
            # Reactions read the store itself, so they run here with or without Kafka.
            workers = Workers(settings, opened.projector_pool, opened.store, source=feed)
            app.state.workers = workers
            stack.push_async_callback(workers.stop)  # logs what fails to stop
            if settings.reactions_in_api and not app.state.master_key_problem:
                await workers.start()
            if settings.uses_dev_secret:
                log.warning(
                    "dev_jwt_secret", detail="CARETRAIL_JWT_SECRET unset; dev secret in use"
                )
            freeze_start_up()
            yield

    app = FastAPI(
        title="Caretrail",
        version="0.1.0",
        description="Event-sourced clinical platform API. Errors are RFC 9457 problem+json.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.tokens = token_verifier(settings)
    app.state.webhook_rules = OutboundRules(settings.webhook_local_urls_allowed)
    app.state.head_book = HeadBook.from_seed(
        settings.chain_heads_path, settings.chain_signing_key_bytes
    )
    plugins = configure(settings)
    app.state.gateway = FakeGateway(settings.payment_webhook_secrets)
    app.state.http_metrics = HttpMetrics()
    app.state.rate_limiter = RateLimiter(settings.redis_url, app.state.http_metrics.registry)
    app.state.verified_keys = VerifiedKeys()
    app.state.key_changes = KeyChanges(settings.redis_url, app.state.verified_keys)
    app.state.queue_feed = QueueFeed(settings.redis_url)
    problems.install(app)

    app.state.version_changes = catalog.VERSION_CHANGES
    for router in catalog.ROUTERS:
        app.include_router(router)
    app.add_middleware(VersionMiddleware)
    app.add_middleware(RequestLimitMiddleware)  # inside the log: a refusal is logged too
    if settings.env == "dev":
        app.include_router(catalog.DEV_SIGN_IN)
    app.add_middleware(RequestLogMiddleware, metrics=app.state.http_metrics)
    # Outside every middleware: the request's server span is open while the log middleware
    # runs, which names it on the request's log line and in its events' traceparent.
    # No span of its own for each ASGI send and receive: two or three per request, costing
    # more CPU than the JWT's check (py-spy), and saying nothing the server span does not.
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=observability.configure_tracing("caretrail-api"),
        exclude_spans=["receive", "send"],
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "Idempotency-Key",
                "Caretrail-Version",
            ],
            expose_headers=list(WEB_APP_READS),
            max_age=600,
        )
    app.openapi = openapi_builder(app, catalog.VERSION_CHANGES)  # type: ignore[method-assign]
    return app
