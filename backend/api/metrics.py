"""`GET /metrics`: Prometheus text format. Projection gauges are read from the database at
scrape time (position, lag in events and seconds, parked or not, the oldest open write
transaction), so every API instance reports the same truth."""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from starlette.responses import Response

router = APIRouter(tags=["operations"])


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    service = request.app.state.projections
    registry = CollectorRegistry()
    labels = ["projection"]
    position = Gauge(
        "caretrail_projection_position", "Last applied global position", labels, registry=registry
    )
    lag_events = Gauge(
        "caretrail_projection_lag_events", "Events not yet applied", labels, registry=registry
    )
    lag_seconds = Gauge(
        "caretrail_projection_lag_seconds",
        "Age of the oldest event not yet applied",
        labels,
        registry=registry,
    )
    parked = Gauge(
        "caretrail_projection_parked", "1 while the projection is parked", labels, registry=registry
    )
    for status in await service.status():
        position.labels(status.name).set(status.position)
        lag_events.labels(status.name).set(status.lag_events)
        lag_seconds.labels(status.name).set(status.lag_seconds)
        parked.labels(status.name).set(1 if status.state == "parked" else 0)
    oldest = await service.oldest_write_transaction_seconds()
    Gauge(
        "caretrail_oldest_write_transaction_seconds",
        "Age of the oldest open transaction that may still commit events (0: none)",
        registry=registry,
    ).set(oldest or 0)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
