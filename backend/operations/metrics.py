"""`GET /metrics`: Prometheus text format. Gauges are read from the database at scrape time, so
every API instance reports the same truth: each projection's position, lag in events and
seconds, parked or stalled; each relay's position and lag; each runner's heartbeat; the
notification backlog; the oldest open write transaction. Each query is an index probe or reads
a table of a few rows: a scrape costs the same whatever the store's size. The HTTP request
counters and latency histograms (backend/api/http_metrics.py), the rate limiter's, and the
append, command, notification and webhook ones (backend/observability.py) are this process's
own: a scraper sums them over the API instances (and the workers, in-process by default).

They describe every tenant's projections, so a scraper shows `Authorization: Bearer
<CARETRAIL_METRICS_TOKEN>`. Without a token configured only dev serves them openly; elsewhere
the route refuses every request until one is set."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from starlette.responses import Response

from backend import observability
from backend.api.problems import ApiError
from backend.notifications.backlog import backlog
from projections import liveness
from projections.tracking import ProjectionStatus, RelayStatus

router = APIRouter(tags=["operations"])


def scraper(request: Request) -> None:
    settings = request.app.state.settings
    expected: str | None = settings.metrics_token
    if expected is None and settings.env == "dev":
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if expected is None or scheme.lower() != "bearer":
        raise ApiError(
            401,
            "UNAUTHENTICATED",
            "metrics need the scrape token (CARETRAIL_METRICS_TOKEN) as a bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise ApiError(401, "UNAUTHENTICATED", "wrong scrape token")


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
        401: {"description": "no or wrong scrape token"},
    },
)
async def metrics(request: Request, _: Annotated[None, Depends(scraper)]) -> Response:
    service = request.app.state.projections
    registry = CollectorRegistry()
    seen = await liveness.runners(service.pool)
    _projections(registry, await service.status(seen))
    _relays(registry, await service.relays())
    _runners(registry, seen)
    due, oldest_due = await backlog(service.pool)
    _gauge(registry, "caretrail_notifications_due", "Notifications due and not yet sent").set(due)
    _gauge(
        registry,
        "caretrail_notifications_oldest_due_seconds",
        "How long the oldest due notification has waited (0: none due)",
    ).set(oldest_due)
    oldest = await service.oldest_write_transaction_seconds()
    _gauge(
        registry,
        "caretrail_oldest_write_transaction_seconds",
        "Age of the oldest open transaction that may still commit events (0: none)",
    ).set(oldest or 0)
    body = (
        generate_latest(registry)
        + generate_latest(request.app.state.http_metrics.registry)
        + generate_latest(observability.METRICS)
    )
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _gauge(
    registry: CollectorRegistry, name: str, help_text: str, labels: Sequence[str] = ()
) -> Gauge:
    return Gauge(name, help_text, list(labels), registry=registry)


def _projections(registry: CollectorRegistry, statuses: list[ProjectionStatus]) -> None:
    labels = ["projection"]
    position = _gauge(
        registry, "caretrail_projection_position", "Last applied global position", labels
    )
    lag_events = _gauge(
        registry, "caretrail_projection_lag_events", "Events not yet applied", labels
    )
    lag_seconds = _gauge(
        registry,
        "caretrail_projection_lag_seconds",
        "Age of the oldest event not yet applied",
        labels,
    )
    parked = _gauge(
        registry, "caretrail_projection_parked", "1 while the projection is parked", labels
    )
    stalled = _gauge(
        registry,
        "caretrail_projection_stalled",
        "1 while no live runner feeds the projection",
        labels,
    )
    quarantined = _gauge(
        registry,
        "caretrail_projection_quarantined_events",
        "Events quarantined for the projection (skipped on an operator's word)",
        labels,
    )
    for status in statuses:
        position.labels(status.name).set(status.position)
        lag_events.labels(status.name).set(status.lag_events)
        lag_seconds.labels(status.name).set(status.lag_seconds)
        parked.labels(status.name).set(1 if status.state == "parked" else 0)
        stalled.labels(status.name).set(1 if status.state == "stalled" else 0)
        quarantined.labels(status.name).set(len(status.quarantined))


def _relays(registry: CollectorRegistry, statuses: list[RelayStatus]) -> None:
    labels = ["relay"]
    position = _gauge(
        registry, "caretrail_relay_position", "Last global position published", labels
    )
    lag_events = _gauge(registry, "caretrail_relay_lag_events", "Events not yet published", labels)
    lag_seconds = _gauge(
        registry,
        "caretrail_relay_lag_seconds",
        "Age of the oldest event not yet published",
        labels,
    )
    for status in statuses:
        position.labels(status.name).set(status.position)
        lag_events.labels(status.name).set(status.lag_events)
        lag_seconds.labels(status.name).set(status.lag_seconds)


def _runners(registry: CollectorRegistry, statuses: list[liveness.RunnerStatus]) -> None:
    labels = ["kind", "runner"]
    seen = _gauge(
        registry,
        "caretrail_runner_seen_seconds",
        "Seconds since the runner's last heartbeat (it beats every second, busy or idle)",
        labels,
    )
    up = _gauge(
        registry,
        "caretrail_runner_up",
        f"1 while the runner was seen within {liveness.STALLED_SECONDS:.0f} s",
        labels,
    )
    for status in statuses:
        seen.labels(status.kind, status.name).set(status.seen_seconds_ago)
        up.labels(status.kind, status.name).set(1 if status.state == "running" else 0)
