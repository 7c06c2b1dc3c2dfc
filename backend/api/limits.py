"""Request size limits, enforced before anything reads or parses the request.

An unauthenticated caller must not be able to make the API hold a large body in memory: the
body is refused on its declared `Content-Length` before a byte of it is read, and a body
without one (chunked) is counted while it streams in and cut off at the route's limit. Either
way the answer is `413 PAYLOAD_TOO_LARGE`, whatever the route would have done with it (the
webhook's signature check, authentication, validation all come later). Headers are bounded
too (`431 HEADERS_TOO_LARGE`): they reach every log line and some reach the event metadata.

Limits are per route where it matters: the payment webhook's notices are small, so it takes
little; every other route takes what its largest valid body needs (a visit note is four
sections of up to 20 000 characters, each up to 6 bytes as JSON escapes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.problems import PROBLEM, problem_body

DEFAULT_BODY_BYTES = 1024 * 1024
HEADER_BYTES = 16 * 1024
"""All header names and values together."""


@dataclass(frozen=True)
class BodyLimit:
    path: re.Pattern[str]
    max_bytes: int


ROUTE_LIMITS = (BodyLimit(re.compile(r"^/v1/payments/webhook/"), 16 * 1024),)


def body_limit(path: str) -> int:
    for limit in ROUTE_LIMITS:
        if limit.path.match(path):
            return limit.max_bytes
    return DEFAULT_BODY_BYTES


class _TooLarge(Exception):
    """The body passed its limit while streaming in; the 413 has been sent."""


class RequestLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if sum(len(k) + len(v) for k, v in scope["headers"]) > HEADER_BYTES:
            detail = f"request headers over {HEADER_BYTES} bytes"
            await _refuse(send, 431, "HEADERS_TOO_LARGE", detail)
            return
        limit = body_limit(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, 413, "PAYLOAD_TOO_LARGE", _too_large(limit))
            return
        received = 0
        refused = False

        async def bounded_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not refused:
                    refused = True
                    await _refuse(send, 413, "PAYLOAD_TOO_LARGE", _too_large(limit))
                    raise _TooLarge
            return message

        async def send_unless_refused(message: Message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, bounded_receive, send_unless_refused)
        except Exception:
            # Whatever the app made of the cut-off body (FastAPI wraps a failing read as a
            # 400), the caller already has its 413.
            if not refused:
                raise


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(limit: int) -> str:
    return f"the request body is over this route's limit of {limit} bytes"


async def _refuse(send: Send, status: int, code: str, detail: str) -> None:
    body = orjson.dumps(problem_body(status, code, detail))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
