"""A background loop for time-driven work: `tick` every `poll_seconds` until stopped, each
failure logged and the loop going on (the notification dispatcher, the scheduling timers)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("caretrail.polling")


class Poller:
    def __init__(self, name: str, tick: Callable[[], Awaitable[object]], poll_seconds: float):
        self.name = name
        self.tick = tick
        self.poll_seconds = poll_seconds
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # a background loop outlives any one failure; it is logged
                log.exception("poller_tick_failed", poller=self.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_seconds)

    async def start(self) -> None:
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.run(self._stop), name=self.name)

    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
