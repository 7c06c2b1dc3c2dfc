"""Every operations route: /health and /health/ready, /metrics, /v1/projections, /v1/reactions."""

from __future__ import annotations

from fastapi import APIRouter

from backend.operations import health, metrics, projections, reactions

router = APIRouter()
for part in (health.router, metrics.router, projections.router, reactions.router):
    router.include_router(part)
