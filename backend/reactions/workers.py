"""The background work that follows the store: every reaction, and the notification dispatcher
that sends what they queue. Started in the API's lifespan or by `caretrail reactions run`."""

from __future__ import annotations

import datetime as dt

import asyncpg

from backend.eventstore import EventStore
from backend.notifications.channels import Channel, fake_channels
from backend.notifications.dispatcher import Dispatcher
from backend.notifications.model import RetryPolicy
from backend.reactions import registered
from backend.reactions.framework import CHECKPOINT_PREFIX, ReactionSubscription
from backend.settings import Settings
from projections.service import ProjectionService, ProjectionStatus

BATCH_SIZE = 50
"""Events per checkpoint transaction: it stays open while the batch's commands run."""


class Workers:
    def __init__(
        self,
        settings: Settings,
        projector_pool: asyncpg.Pool,
        store: EventStore,
        channels: dict[str, Channel] | None = None,
    ) -> None:
        subscriptions = [ReactionSubscription(r, store) for r in registered.ALL]
        self.reactions = ProjectionService(projector_pool, subscriptions, batch_size=BATCH_SIZE)
        self.channels: dict[str, Channel] = channels or dict(fake_channels())
        self.dispatcher = Dispatcher(
            projector_pool,
            store,
            self.channels,
            retry=RetryPolicy(
                settings.notification_max_attempts,
                dt.timedelta(seconds=settings.notification_first_retry_seconds),
            ),
            lease=dt.timedelta(seconds=settings.notification_lease_seconds),
            poll_seconds=settings.notification_poll_seconds,
        )

    async def start(self) -> None:
        await self.reactions.start()
        await self.dispatcher.start()

    async def stop(self) -> None:
        await self.dispatcher.stop()
        await self.reactions.stop()

    def running(self) -> bool:
        return self.reactions.running() and self.dispatcher.running()

    async def status(self) -> list[ProjectionStatus]:
        """Each reaction's checkpoint, named without the "reaction:" prefix."""
        return [
            ProjectionStatus(**{**s.as_dict(), "name": s.name.removeprefix(CHECKPOINT_PREFIX)})
            for s in await self.reactions.status()
        ]
