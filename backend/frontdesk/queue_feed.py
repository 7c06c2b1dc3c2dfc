"""The live queue's changes, fanned out to every API process through Redis pub/sub.

A reaction (`QueueAnnouncer`, run by the workers of whichever process takes the batch) publishes
each check-in, completion, no-show and cancellation, with its global position, on one channel;
every API process subscribes once (`QueueFeed`) and hands each message to its own SSE clients
(queue_router.py). A message lost (Redis down, a listener reconnecting) is not lost to a
client: the client resumes with `Last-Event-ID`, and the stream replays from the store every
change after it. The reactions announce in the gap-safe global order (transaction id, position),
which each change carries.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from backend.api.channel import ChannelListener
from backend.eventstore import RecordedEvent
from backend.reactions.framework import Commands
from backend.scheduling.events import (
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentMarkedNoShow,
    PatientCheckedIn,
)

log = structlog.get_logger("caretrail.queue")
CHANNEL = "caretrail:queue"
RESUBSCRIBE_SECONDS = 0.5
QUEUE_EVENTS = frozenset(
    e.type_name()
    for e in (PatientCheckedIn, AppointmentCompleted, AppointmentMarkedNoShow, AppointmentCancelled)
)


def change_of(event: RecordedEvent) -> dict[str, Any]:
    return {
        "tenant_id": str(event.tenant_id),
        "tx_id": event.tx_id,
        "position": event.position,
        "type": event.event_type,
        "appointment_id": event.data["appointment_id"],
    }


@dataclass
class QueueAnnouncer:
    """The reaction that publishes queue changes (idempotent: a change published twice is
    dropped by clients, which skip ids they have seen)."""

    redis_url: str
    name: str = "queue-announcer"
    event_types: frozenset[str] = QUEUE_EVENTS
    _redis: aioredis.Redis | None = field(default=None, repr=False)

    async def handle(self, event: RecordedEvent, commands: Commands) -> None:
        if self._redis is None:
            self._redis = aioredis.Redis.from_url(self.redis_url, socket_timeout=0.25)
        try:
            await self._redis.publish(CHANNEL, orjson.dumps(change_of(event)))
        except (RedisError, OSError) as e:
            log.warning("queue_change_unannounced", position=event.position, error=repr(e))

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


class QueueFeed:
    """This process's subscription: each change handed to every listening client."""

    def __init__(self, redis_url: str) -> None:
        self.listeners: set[asyncio.Queue[dict[str, Any]]] = set()
        self.channel = ChannelListener(
            redis_url,
            CHANNEL,
            lambda data: self._hand_out(orjson.loads(data)),
            resubscribe_seconds=RESUBSCRIBE_SECONDS,
        )

    def listen(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self.listeners.add(queue)
        return queue

    def forget(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self.listeners.discard(queue)

    async def start(self) -> None:
        await self.channel.start()

    def _hand_out(self, change: dict[str, Any]) -> None:
        for queue in list(self.listeners):
            with contextlib.suppress(asyncio.QueueFull):  # a stuck client resumes by its id
                queue.put_nowait(change)

    async def close(self) -> None:
        await self.channel.close()
