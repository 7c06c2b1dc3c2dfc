"""HTTP request metrics of one API process, for `GET /metrics`: requests by method, route
template and status (rate, and errors as the 5xx among them), latency by method and route.

The route is the template (`/v1/patients/{patient_id}`), never the path: ids in paths would make
a series per resource. A request no route matched counts under `unmatched`."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

UNMATCHED = "unmatched"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "caretrail_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "caretrail_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response, by method and route",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe(self, method: str, route: str | None, status: int, seconds: float) -> None:
        template = route or UNMATCHED
        self.requests.labels(method, template, str(status)).inc()
        self.latency.labels(method, template).observe(seconds)
