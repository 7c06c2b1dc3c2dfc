"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import APIRouter, Request
from starlette.responses import Response

from backend.api.reads import json_response
from backend.eventstore.migrate import current_revision, head_revision
from backend.specialties import registry
from projections import liveness

router = APIRouter(tags=["operations"])
READY_LAG_SECONDS = 2.0
"""A projection further behind than this (the age of the oldest event it has not applied)
makes the API unready: a read at the latest position would wait."""


@router.get("/health")
async def health() -> Response:
    return json_response({"status": "ok"})


@router.get("/health/ready")
async def ready(request: Request) -> Response:
    """Ready when the database answers, its schema is at the newest migration, the master key
    opens its personal data (checked at start) and the projections are caught up (see
    _projections)."""
    checks: dict[str, str] = {}
    try:
        async with request.app.state.pool.acquire(timeout=2) as conn:
            revision = await current_revision(conn)
        checks["database"] = "ok"
        head = head_revision()
        checks["migrations"] = "ok" if revision == head else f"at {revision}, head is {head}"
    except (OSError, asyncpg.PostgresError, TimeoutError) as e:
        checks["database"] = f"unreachable: {type(e).__name__}"
        checks["migrations"] = "unknown"
    checks["master_key"] = request.app.state.master_key_problem or "ok"
    checks["projections"] = await _projections(request)
    ok = all(checks[k] == "ok" for k in ("database", "migrations", "master_key", "projections"))
    body = {"status": "ready" if ok else "not ready", "checks": checks, "plugins": _plugins()}
    response = json_response(body)
    response.status_code = 200 if ok else 503
    return response


def _plugins() -> dict[str, Any]:
    """Informative only: an invalid plugin is skipped, it does not make the API unready."""
    catalog = registry.active().catalog
    return {
        "loaded": {name: plugin.version for name, plugin in sorted(catalog.plugins.items())},
        "invalid": {
            name: [p.as_dict() for p in problems]
            for name, problems in sorted(catalog.problems.items())
        },
    }


async def _projections(request: Request) -> str:
    """ "ok" when reads at the store's head would not wait long: no projection parked, the
    runners that feed them alive (this process's catch-up group; fed from Kafka, a projector
    and the relay, by their heartbeats: projections/liveness.py), and none more than
    READY_LAG_SECONDS behind the oldest event it has not applied."""
    service = request.app.state.projections
    fed_from_kafka = request.app.state.settings.kafka_bootstrap_servers is not None
    if not fed_from_kafka and not service.running():
        return "not running"
    try:
        seen = await liveness.runners(service.pool)
        statuses = await service.status(seen)
    except (OSError, asyncpg.PostgresError):
        return "unknown"
    parked = [s.name for s in statuses if s.state == "parked"]
    if parked:
        return f"parked: {', '.join(parked)}"
    if fed_from_kafka:
        for kind in (liveness.PROJECTOR, liveness.RELAY):
            stalled = _stalled(kind, liveness.freshest(seen, kind))
            if stalled:
                return stalled
    behind = [s.name for s in statuses if s.lag_seconds > READY_LAG_SECONDS]
    return f"catching up: {', '.join(behind)}" if behind else "ok"


def _stalled(kind: str, runner: liveness.RunnerStatus | None) -> str | None:
    if runner is None:
        return f"no {kind} has run"
    if runner.state != "running":
        return f"{kind} stalled: {runner.name} not seen for {runner.seen_seconds_ago:.0f} s"
    return None
