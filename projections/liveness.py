"""Whether each runner is alive: a row per runner in `runner_liveness` (migration 0024), written
at most every BEAT_SECONDS whether or not anything moved. A runner not seen for STALLED_SECONDS
is stalled: status says so, readiness turns 503.

Runners: `in-process` catch-up groups (`projections` in each API, `reactions`), the `relay`, and
Kafka `projector` groups. Several processes running one runner share its row (the last one to
beat names itself in `process`)."""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

IN_PROCESS = "in-process"
RELAY = "relay"
PROJECTOR = "projector"
BEAT_SECONDS = 1.0
STALLED_SECONDS = 5.0


class Heartbeat:
    def __init__(self, pool: asyncpg.Pool, kind: str, name: str) -> None:
        self.pool = pool
        self.kind = kind
        self.name = name
        self.process = f"{socket.gethostname()}:{os.getpid()}"
        self._last = float("-inf")

    async def beat(self) -> None:
        """Record that the runner is alive, unless it did less than BEAT_SECONDS ago."""
        now = time.monotonic()
        if now - self._last < BEAT_SECONDS:
            return
        await self.pool.execute(
            "INSERT INTO runner_liveness (kind, name, process) VALUES ($1, $2, $3)"
            " ON CONFLICT (kind, name) DO UPDATE SET process = EXCLUDED.process, seen_at = now()",
            self.kind,
            self.name,
            self.process,
        )
        self._last = now


@dataclass(frozen=True)
class RunnerStatus:
    kind: str
    name: str
    process: str
    seen_seconds_ago: float
    state: str
    """running, or stalled when not seen for STALLED_SECONDS."""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


async def runners(pool: asyncpg.Pool) -> list[RunnerStatus]:
    rows = await pool.fetch(
        "SELECT kind, name, process, extract(epoch FROM now() - seen_at)::float8 AS seen"
        " FROM runner_liveness ORDER BY kind, name"
    )
    return [
        RunnerStatus(
            r["kind"],
            r["name"],
            r["process"],
            round(max(r["seen"], 0.0), 3),
            "running" if r["seen"] <= STALLED_SECONDS else "stalled",
        )
        for r in rows
    ]


def freshest(statuses: Sequence[RunnerStatus], kind: str) -> RunnerStatus | None:
    """The most recently seen runner of `kind`, if any ever ran."""
    of_kind = [s for s in statuses if s.kind == kind]
    return min(of_kind, key=lambda s: s.seen_seconds_ago, default=None)
