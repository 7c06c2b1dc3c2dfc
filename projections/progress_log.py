"""Progress lines for long-running runners (the relay, the Kafka projector): one line at most
every `every` seconds, and none while nothing moves, so a busy runner's log stays readable and
an idle one's stays quiet."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog

PROGRESS_LOG_SECONDS = 10.0


class ProgressLog:
    def __init__(
        self,
        event: str,
        logger: Any,
        *,
        every: float = PROGRESS_LOG_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.event = event
        self.log: structlog.stdlib.BoundLogger = logger
        self.every = every
        self.clock = clock
        self._since = clock()
        self._events = 0

    def moved(self, events: int, **where: Any) -> None:
        """Count `events` handled; log them (with `where`, e.g. the position reached) once
        `every` seconds have passed since the last line."""
        self._events += events
        now = self.clock()
        elapsed = now - self._since
        if self._events == 0 or elapsed < self.every:
            return
        self.log.info(
            self.event,
            events=self._events,
            events_per_second=round(self._events / elapsed, 1) if elapsed > 0 else None,
            **where,
        )
        self._since, self._events = now, 0
