"""One Redis pub/sub channel followed for the life of a process (the API keys' changes, the
live queue): each message handed to a callback; subscribed again a moment after Redis comes
back. A message published while the listener is away is lost, so `on_gap` runs at every
(re)subscription: what was said meanwhile is unknown, and the caller decides what that means."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog
from redis import asyncio as aioredis
from redis.exceptions import RedisError

log = structlog.get_logger("caretrail.channel")


class ChannelListener:
    def __init__(
        self,
        redis_url: str,
        channel: str,
        on_message: Callable[[bytes], None],
        *,
        on_gap: Callable[[], None] = lambda: None,
        resubscribe_seconds: float = 1.0,
    ) -> None:
        # Its own client: a subscriber waits for messages with no read timeout.
        self.redis = aioredis.Redis.from_url(redis_url, socket_connect_timeout=0.25)
        self.channel = channel
        self.on_message = on_message
        self.on_gap = on_gap
        self.resubscribe_seconds = resubscribe_seconds
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name=self.channel)

    async def _listen(self) -> None:
        failing = False
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    self.on_gap()
                    failing = False
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self.on_message(message["data"])
            except (RedisError, OSError) as e:
                if not failing:
                    log.warning("channel_unheard", channel=self.channel, error=repr(e))
                failing = True
                self.on_gap()
            await asyncio.sleep(self.resubscribe_seconds)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self.redis.aclose()
