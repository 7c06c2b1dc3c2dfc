"""Wakes the store's in-process followers (projection groups, reactions, read-your-writes
waiters) as soon as a command of this process has committed, instead of each polling."""

from __future__ import annotations

import asyncio
import time


class AppendSignal:
    def __init__(self) -> None:
        self._subscribers: set[asyncio.Event] = set()

    def subscribe(self) -> asyncio.Event:
        """An event set after every commit from now on; the subscriber clears it."""
        event = asyncio.Event()
        self._subscribers.add(event)
        return event

    def unsubscribe(self, event: asyncio.Event) -> None:
        self._subscribers.discard(event)

    def notify(self) -> None:
        for event in self._subscribers:
            event.set()


async def pace(since: float, gap: float) -> None:
    """Sleep what is left of `gap` seconds after `since` (a `time.monotonic()` reading).

    For followers woken by every commit that need not act on each one at once (the audit
    chainer, the webhook dispatcher): under load they take `gap` seconds of commits in one pass
    rather than a pass, and its PostgreSQL transactions, per commit."""
    left = since + gap - time.monotonic()
    if left > 0:
        await asyncio.sleep(left)
