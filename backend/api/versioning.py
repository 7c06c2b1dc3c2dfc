"""Older versions of the API served at the edge: handlers speak versions.CURRENT only.

`VersionMiddleware` refuses a `Caretrail-Version` that names no version (400
UNKNOWN_API_VERSION) before anything reads the request, and names on every response the version
it speaks. `VersionedRoute`, the route class of every router whose shapes a VersionChange
touches, undoes those changes for a caller of an older version: it upgrades the request body to
the newest shape before the handler parses it, and downgrades the handler's JSON answer (and
the field names of a 422) to the caller's shape. A test checks that every route a change names
is served by a VersionedRoute.

The version is the header's, else the caller's: a key's pin needs the key authenticated first,
which the route then does (`authenticate` keeps the principal for the request), a token speaks
versions.TOKEN_DEFAULT.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.deps import authenticate
from backend.api.problems import PROBLEM, problem_body
from backend.api.versions import (
    HEADER,
    TOKEN_DEFAULT,
    VERSIONS,
    Route,
    VersionChange,
    changes_since,
    spoken,
)
from backend.kernel.errors import Invalid

_HEADER = HEADER.lower().encode()
UNKNOWN_API_VERSION = "UNKNOWN_API_VERSION"


class VersionMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = _header(scope)
        if header is not None and header not in VERSIONS:
            await _refuse(send, header)
            return
        state = scope.setdefault("state", {})

        async def send_naming_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                version = state.get("api_version") or header or TOKEN_DEFAULT
                headers = [*message.get("headers", []), (_HEADER, version.encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_naming_version)


class VersionedRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def versioned(request: Request) -> Response:
            changes = changes_since(await _version_of(request), _changes(request))
            route = (request.method, self.path)
            if not any(route in c.routes() for c in changes):
                return await handler(request)
            upgrades = [c.requests[route] for c in changes if route in c.requests]
            undo = changes[::-1]
            try:
                if upgrades:
                    request = await _upgraded(request, upgrades)
                response = await handler(request)
            except Invalid as e:
                e.field = _old_field(e.field, undo)
                e.detail = f"{e.field}: {e.message}"
                raise
            except RequestValidationError as e:
                raise RequestValidationError(
                    [{**error, "loc": _old_loc(error["loc"], undo)} for error in e.errors()]
                ) from None
            return _downgraded(response, route, undo)

        return versioned


async def _version_of(request: Request) -> str:
    header = request.headers.get(HEADER)
    if header is None and "x-api-key" in request.headers:
        await authenticate(request)  # the key's pin; the route's dependency reuses it
    version = getattr(request.state, "api_version", None)
    return version or spoken(header, None)


def _changes(request: Request) -> tuple[VersionChange, ...]:
    changes: tuple[VersionChange, ...] = request.app.state.version_changes
    return changes


async def _upgraded(request: Request, upgrades: list[Callable[[Any], Any]]) -> Request:
    """The request with its JSON body in the newest shape (a body that is not JSON is left
    for the route to refuse)."""
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return request
    for upgrade in upgrades:
        body = upgrade(body)
    upgraded = orjson.dumps(body)

    async def receive() -> Message:
        return {"type": "http.request", "body": upgraded, "more_body": False}

    return Request(request.scope, receive)


def _downgraded(response: Response, route: Route, changes: list[VersionChange]) -> Response:
    """A successful JSON answer in the caller's shape, newest change undone first."""
    if isinstance(response, StreamingResponse) or not 200 <= response.status_code < 300:
        return response
    if not response.headers.get("content-type", "").startswith("application/json"):
        return response
    body = orjson.loads(response.body)
    for change in changes:
        if route in change.responses:
            body = change.responses[route](body)
    response.body = orjson.dumps(body)
    response.headers["content-length"] = str(len(response.body))
    return response


def _old_field(field: str, changes: list[VersionChange]) -> str:
    """A field a 422 names, as the caller's version names it."""
    for change in changes:
        field = change.old_fields.get(field, field)
    return field


def _old_loc(loc: tuple[Any, ...], changes: list[VersionChange]) -> tuple[Any, ...]:
    if not loc or loc[0] != "body":
        return loc
    field = ".".join(str(part) for part in loc[1:])
    return ("body", *_old_field(field, changes).split("."))


def old_schemas(schema: dict[str, Any], changes: tuple[VersionChange, ...]) -> None:
    """The OpenAPI document's request schemas as versions.TOKEN_DEFAULT has them."""
    for change in changes_since(TOKEN_DEFAULT, changes)[::-1]:
        if change.schemas is not None:
            change.schemas(schema)


def _header(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == _HEADER:
            decoded: str = value.decode("latin-1")
            return decoded.strip()
    return None


async def _refuse(send: Send, given: str) -> None:
    detail = f"{HEADER} {given!r} names no version of this API; known: {', '.join(VERSIONS)}"
    body = orjson.dumps(problem_body(400, UNKNOWN_API_VERSION, detail))
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", PROBLEM.encode()),
                (b"content-length", str(len(body)).encode()),
                (_HEADER, TOKEN_DEFAULT.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
