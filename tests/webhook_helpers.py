"""Webhooks in tests: a real HTTP receiver on 127.0.0.1 (uvicorn on a free port, in the test's
event loop) that records every delivery and answers as the test says, and the signature check
exactly as docs/partners.md gives it to partners."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn

WAIT_SECONDS = 15


def verify(
    secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300
) -> dict[str, Any]:
    """docs/partners.md's recipe: the payload, if a signature in `webhook-signature` is the
    HMAC-SHA256 of "{id}.{timestamp}.{body}" under the secret, and the timestamp is recent."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        raise ValueError("stale delivery")
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in headers["webhook-signature"].split():
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            payload: dict[str, Any] = orjson.loads(body)
            return payload
    raise ValueError("no valid signature")


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def event(self) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self.body)["data"]
        return data


@dataclass
class Receiver:
    """Answers `answer(n)` to its n-th request (0-based); `gate`, when set, holds each request
    until it is opened."""

    url: str = ""
    received: list[Delivery] = field(default_factory=list)
    answer: Callable[[int], int] = lambda n: 200
    gate: asyncio.Event | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        n = len(self.received)
        self.received.append(Delivery(headers, body, time.monotonic()))
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        await send({"type": "http.response.start", "status": self.answer(n), "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def wait_for(self, count: int, seconds: float = WAIT_SECONDS) -> list[Delivery]:
        """The deliveries once there are at least `count`."""
        deadline = time.monotonic() + seconds
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} deliveries"
            await asyncio.sleep(0.02)
        return list(self.received)


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    made = Receiver(url=f"http://127.0.0.1:{port}/hooks/caretrail")
    config = uvicorn.Config(made, lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn says so by this flag alone)
        await asyncio.sleep(0.01)
    try:
        yield made
    finally:
        if made.gate is not None:
            made.gate.set()
        server.should_exit = True
        await task
        sock.close()
