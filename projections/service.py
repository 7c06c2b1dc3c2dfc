"""Runs catch-up subscribers in-process from the store, and reports on them: every projection
(the embedded default) and, in a service of their own, the reactions (backend/reactions)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from projections.catchup import CatchUpRunner, SharedCatchUp
from projections.framework import Projection


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    state: str
    position: int
    lag_events: int
    lag_seconds: float
    last_error: str | None
    error_position: int | None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


class ProjectionService:
    def __init__(
        self, pool: asyncpg.Pool, projections: Sequence[Projection], *, batch_size: int = 500
    ) -> None:
        self.pool = pool
        self.runners = [CatchUpRunner(pool, p, batch_size=batch_size) for p in projections]
        self._shared = SharedCatchUp(pool, self.runners, batch_size=batch_size)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for runner in self.runners:
            await runner.checkpoint()  # every projection shows in status from the start
        self._tasks = [asyncio.create_task(self._shared.run(self._stop))]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def running(self) -> bool:
        return bool(self._tasks) and not any(t.done() for t in self._tasks)

    async def oldest_write_transaction_seconds(self) -> float | None:
        """Age of the oldest open transaction that may still commit events: the only kind that
        holds the global readers back (see event_horizon() in migration 0002)."""
        value = await self.pool.fetchval(
            "SELECT extract(epoch FROM now() - min(xact_start))::float8 FROM pg_stat_activity"
            " WHERE backend_xid IS NOT NULL AND datname = current_database()"
            " AND has_any_column_privilege(usesysid, 'public.events', 'INSERT')"
        )
        return float(value) if value is not None else None

    async def status(self) -> list[ProjectionStatus]:
        """Position and lag per projection. Lag is measured on the store: events past the
        checkpoint, and the age of the oldest of them."""
        rows = await self.pool.fetch(
            """
            SELECT c.name, c.state, c.position, c.last_error, c.error_position,
                   (SELECT count(*) FROM events e
                     WHERE (e.tx_id, e.position) > (c.tx_id, c.position)) AS lag_events,
                   (SELECT min(e.recorded_at) FROM events e
                     WHERE (e.tx_id, e.position) > (c.tx_id, c.position)) AS oldest_pending
              FROM projection_checkpoints c
             WHERE c.name = ANY($1)
             ORDER BY c.name
            """,
            [r.projection.name for r in self.runners],
        )
        now = dt.datetime.now(dt.UTC)
        return [
            ProjectionStatus(
                name=r["name"],
                state=r["state"],
                position=r["position"],
                lag_events=r["lag_events"],
                lag_seconds=(now - r["oldest_pending"]).total_seconds()
                if r["oldest_pending"]
                else 0.0,
                last_error=r["last_error"],
                error_position=r["error_position"],
            )
            for r in rows
        ]
