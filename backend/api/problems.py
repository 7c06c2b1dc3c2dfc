"""RFC 9457 problem+json responses with a stable machine `code`."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from backend.kernel.errors import DomainError, Invalid

PROBLEM = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    412: "Precondition failed",
    413: "Content too large",
    422: "Unprocessable content",
    431: "Request header fields too large",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}
HTTP_CODES = {
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    400: "BAD_REQUEST",
}


class ApiError(Exception):
    """An error raised at the edge (authentication, authorisation), outside the domain."""

    def __init__(
        self, status: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}


def problem_body(
    status: int, code: str, detail: str, errors: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"https://caretrail.dev/problems/{code.lower().replace('_', '-')}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    return body


def domain_problem_body(exc: DomainError) -> dict[str, Any]:
    errors = [{"field": exc.field, "message": exc.message}] if isinstance(exc, Invalid) else None
    return problem_body(exc.status, exc.code, exc.detail, errors)


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = problem_body(status, code, detail, errors)
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> Response:
        body = orjson.dumps(domain_problem_body(exc))
        return Response(body, status_code=exc.status, media_type=PROBLEM)

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> Response:
        return problem(exc.status, exc.code, exc.detail, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        errors = [{"field": _field(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
        return problem(422, "VALIDATION_ERROR", "the request is not valid", errors=errors)

    @app.exception_handler(asyncpg.DataError)
    async def _unstorable(_: Request, exc: asyncpg.DataError) -> Response:
        # A value the field types let through but PostgreSQL cannot hold (e.g. NUL inside
        # free-form JSON): the request is at fault, not the server.
        return problem(422, "VALIDATION_ERROR", f"a value cannot be stored: {exc}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed(request))
        return problem(exc.status_code, code, str(exc.detail), headers=headers)


def _allowed(request: Request) -> list[str]:
    """Every method the OpenAPI document lists for this path: Starlette's 405 names only the
    first route whose path matched, while GET and PATCH of one resource are two routes. A path
    written out in the document is that resource alone, not also a value of a parameter beside
    it (`/v1/wards/occupancy` is no `/v1/wards/{ward_id}`)."""
    paths = request.app.openapi()["paths"]
    path = request.url.path
    matching = [t for t in paths if _template(t).fullmatch(path)]
    literal = [t for t in matching if "{" not in t]
    methods = {m.upper() for t in (literal or matching) for m in paths[t]}
    return sorted(methods)


@functools.cache
def _template(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)))
