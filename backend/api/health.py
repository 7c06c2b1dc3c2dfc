"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import APIRouter, Request
from starlette.responses import Response

from backend.api.reads import json_response
from backend.eventstore.migrate import current_revision, head_revision
from backend.plugins import registry

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health() -> Response:
    return json_response({"status": "ok"})


@router.get("/health/ready")
async def ready(request: Request) -> Response:
    """Ready when the database answers and its schema is at the newest migration."""
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
    checks["projections"] = await _projections(request)
    ok = all(checks[k] == "ok" for k in ("database", "migrations", "projections"))
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
    settings = request.app.state.settings
    if settings.kafka_bootstrap_servers is not None:
        return "ok"  # they run as their own processes; see GET /v1/projections
    service = request.app.state.projections
    if not service.running():
        return "not running"
    try:
        parked = [s.name for s in await service.status() if s.state != "running"]
    except (OSError, asyncpg.PostgresError):
        return "unknown"
    return f"parked: {', '.join(parked)}" if parked else "ok"
