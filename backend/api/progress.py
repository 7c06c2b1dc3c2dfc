"""Read-your-writes waits, shared: one watcher per API process follows every projection's
progress while requests wait on it, instead of each request polling the database.

A waiting request registers the projections it reads and the place in the global order it needs
them past; the watcher reads all projections' places in one query (every few milliseconds while
anyone waits, and at once when this process's projections have applied a batch), resolves the
waits it can, and stops reading when nobody waits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg
import structlog

from backend.eventstore.signal import AppendSignal
from backend.eventstore.types import GlobalCheckpoint
from projections import tracking

log = structlog.get_logger("caretrail.reads")
POLL_SECONDS = 0.005


@dataclass(eq=False)
class _Wait:
    names: tuple[str, ...]
    target: GlobalCheckpoint
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class ProgressWatch:
    def __init__(
        self, pool: asyncpg.Pool, partitions: int | None, applied: AppendSignal | None = None
    ) -> None:
        self.pool = pool
        self.partitions = partitions
        """The Kafka partition count when projections are fed from Kafka, else None."""
        self.applied = applied
        """Notified when this process's projections have applied a batch (catch-up mode)."""
        self._waits: set[_Wait] = set()
        self._task: asyncio.Task[None] | None = None

    async def place_of(self, position: int) -> tuple[GlobalCheckpoint | None, int]:
        return await tracking.place_of(self.pool, position)

    async def wait(self, names: Sequence[str], target: GlobalCheckpoint, seconds: float) -> bool:
        """Whether every named projection has applied everything up to `target` within
        `seconds`."""
        wait = _Wait(tuple(names), target)
        self._waits.add(wait)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch())
        try:
            await asyncio.wait_for(asyncio.shield(wait.done), seconds)
            return True
        except TimeoutError:
            return False
        finally:
            self._waits.discard(wait)

    async def _watch(self) -> None:
        wake = self.applied.subscribe() if self.applied is not None else asyncio.Event()
        try:
            while self._waits:
                wake.clear()
                try:
                    places = await tracking.least_places(self.pool, self.partitions)
                except (OSError, asyncpg.PostgresError) as e:
                    log.warning("progress_watch_failed", error=str(e))
                    places = {}
                for wait in list(self._waits):
                    if not wait.done.done() and all(
                        places.get(n, GlobalCheckpoint()) >= wait.target for n in wait.names
                    ):
                        wait.done.set_result(None)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), POLL_SECONDS)
        finally:
            if self.applied is not None:
                self.applied.unsubscribe(wake)
