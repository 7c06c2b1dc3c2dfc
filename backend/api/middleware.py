"""One structured log line per request: request id, trace id, tenant, actor, route, status,
latency, and for a problem response its `code`.

It is also where an unhandled exception ends: it answers the 500 problem itself (with the
request's id) and logs it on the request's line with the traceback, so a 500 is exactly one
line: nothing is re-raised to Starlette or uvicorn, which would log it again without the id.
Every other line written while the request runs carries its `request_id` and `trace_id`
(structlog context variables, merged into standard library records too).

Every response leaves with `X-Request-ID` and, for a partner's API key, its rate limit budgets
(`RateLimit`, `RateLimit-Policy`: docs/partners.md)."""

from __future__ import annotations

import time
from typing import Any

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend import observability
from backend.api import problems, request_ids
from backend.api.http_metrics import HttpMetrics

log = structlog.get_logger("caretrail.http")


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_ids.request_id(_header(scope, b"x-request-id"))
        trace = observability.trace_for_request(_header(scope, b"traceparent"))
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["traceparent"] = trace.traceparent
        response = _Response(request_id, state)

        async def send_with_id(message: Message) -> None:
            response.saw(message)
            await send(message)

        error: Exception | None = None
        with structlog.contextvars.bound_contextvars(
            request_id=request_id, trace_id=trace.trace_id
        ):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as e:
                if response.started:
                    raise  # too late for a 500: the server closes the connection
                error = e
                await _INTERNAL_ERROR(scope, receive, send_with_id)
            finally:
                _log(scope, response, trace.trace_id, started, error)
                if self.metrics is not None:
                    route = getattr(scope.get("route"), "path", None)
                    elapsed = time.perf_counter() - started
                    self.metrics.observe(scope["method"], route, response.status, elapsed)


class _Response:
    """What the request's log line says about the response (status and problem code), and the
    headers every response gets here."""

    def __init__(self, request_id: str, state: dict[str, Any]) -> None:
        self.request_id = request_id
        self._state = state
        self.status = 500
        self.started = False
        self.code: str | None = None
        self._problem = False

    def saw(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            self.status = message["status"]
            headers = message.get("headers", [])
            self._problem = (b"content-type", problems.PROBLEM.encode()) in headers
            # An API key's remaining budgets, on every answer after it was authenticated
            # (backend/api/deps.py): its 404s and 403s too.
            rate_limits = self._state.get("rate_limit_headers", ())
            message["headers"] = [
                *headers,
                (b"x-request-id", self.request_id.encode()),
                *rate_limits,
            ]
        elif message["type"] == "http.response.body" and self._problem and self.code is None:
            self._problem = False  # a problem body is one small chunk: read it once
            try:
                body = orjson.loads(message.get("body", b""))
            except orjson.JSONDecodeError:
                return
            if isinstance(body, dict) and isinstance(body.get("code"), str):
                self.code = body["code"]


_INTERNAL_ERROR = problems.problem(500, "INTERNAL_ERROR", "an unexpected error occurred")
"""The whole answer to an unhandled exception: what went wrong is in the log, not the body."""


def _log(
    scope: Scope, response: _Response, trace_id: str, started: float, error: Exception | None
) -> None:
    principal: Any = scope["state"].get("principal")
    route = scope.get("route")
    status = response.status
    if error is not None:
        emit = log.error
    elif status >= 500:
        emit = log.warning
    else:
        emit = log.info
    details: dict[str, Any] = {"exc_info": error} if error is not None else {}
    emit(
        "request",
        request_id=response.request_id,
        trace_id=trace_id,
        method=scope["method"],
        route=getattr(route, "path", scope["path"]),
        status=status,
        code=response.code,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
        tenant=str(principal.tenant_id) if principal and principal.tenant_id else None,
        actor=principal.actor if principal else None,
        **details,
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None
