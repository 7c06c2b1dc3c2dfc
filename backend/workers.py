"""The background work that follows the store: every reaction, the notification dispatcher
that sends what they queue, the scheduling timers (holds' expiry, no-shows:
backend/scheduling/timers.py), the chainer that links events into their tenant's chain
(backend/audit/chainer.py), and the webhook dispatcher (unless CARETRAIL_WEBHOOKS_OWN_PROCESS:
then `caretrail webhooks run` runs it). Started in the API's lifespan or by
`caretrail reactions run`."""

from __future__ import annotations

import datetime as dt

import asyncpg
import structlog

from backend import catalog
from backend.audit.chainer import Chainer
from backend.audit.heads import HeadBook
from backend.eventstore import EventStore
from backend.frontdesk.queue_feed import QueueAnnouncer
from backend.notifications.channels import Channel, fake_channels
from backend.notifications.dispatcher import Dispatcher
from backend.notifications.model import RetryPolicy
from backend.reactions.framework import CHECKPOINT_PREFIX, ReactionSubscription
from backend.scheduling.timers import SchedulingTimers
from backend.settings import Settings
from backend.webhooks.addresses import OutboundRules
from backend.webhooks.dispatcher import DeliveryPolicy, WebhookDispatcher
from projections.catchup import BatchFeed
from projections.service import ProjectionService
from projections.tracking import ProjectionStatus

log = structlog.get_logger("caretrail.workers")

BATCH_SIZE = 50
"""Events per checkpoint transaction: it stays open while the batch's commands run."""


class Workers:
    def __init__(
        self,
        settings: Settings,
        projector_pool: asyncpg.Pool,
        store: EventStore,
        channels: dict[str, Channel] | None = None,
        source: BatchFeed | None = None,
    ) -> None:
        """`source`: the in-process projections' batches, read once for both (None: the
        reactions read the store themselves, woken by the store's appends)."""
        self.queue_announcer = QueueAnnouncer(settings.redis_url)
        subscriptions = [
            ReactionSubscription(r, store) for r in (*catalog.REACTIONS, self.queue_announcer)
        ]
        self.reactions = ProjectionService(
            projector_pool,
            subscriptions,
            group="reactions",
            batch_size=BATCH_SIZE,
            signal=store.appended,
            source=source,
            lazy=True,  # nobody waits on the reactions' place: written at most every 250 ms
        )
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
        self.timers = SchedulingTimers(projector_pool, store)
        self.webhooks = (
            None
            if settings.webhooks_own_process
            else webhook_dispatcher(settings, projector_pool, store)
        )
        self.chainer = Chainer(
            projector_pool,
            HeadBook.from_seed(settings.chain_heads_path, settings.chain_signing_key_bytes),
            settings.chain_sign_seconds,
            signal=store.appended,
        )

    async def start(self) -> None:
        await self.reactions.start()
        await self.dispatcher.start()
        await self.timers.start()
        await self.chainer.start()
        if self.webhooks is not None:
            await self.webhooks.start()

    async def stop(self) -> None:
        """Stops each part even when another fails to stop (its failure is logged): a part left
        running would go on using the pools its caller is about to close."""
        parts = [("webhooks", self.webhooks.stop)] if self.webhooks is not None else []
        for part, stop in (
            *parts,
            ("chainer", self.chainer.stop),
            ("timers", self.timers.stop),
            ("dispatcher", self.dispatcher.stop),
            ("reactions", self.reactions.stop),
            ("queue announcer", self.queue_announcer.close),
        ):
            try:
                await stop()
            except Exception:
                log.exception("worker_stop_failed", part=part)

    def running(self) -> bool:
        delivering = self.webhooks is None or self.webhooks.running()
        return (
            self.reactions.running()
            and self.dispatcher.running()
            and self.timers.running()
            and self.chainer.running()
            and delivering
        )

    async def status(self) -> list[ProjectionStatus]:
        """Each reaction's checkpoint, named without the "reaction:" prefix."""
        return [
            ProjectionStatus(**{**s.as_dict(), "name": s.name.removeprefix(CHECKPOINT_PREFIX)})
            for s in await self.reactions.status()
        ]


def webhook_dispatcher(
    settings: Settings, projector_pool: asyncpg.Pool, store: EventStore
) -> WebhookDispatcher:
    """The webhook dispatcher as the settings configure it."""
    return WebhookDispatcher(
        projector_pool,
        store,
        OutboundRules(settings.webhook_local_urls_allowed),
        DeliveryPolicy(
            settings.webhook_max_failures,
            dt.timedelta(seconds=settings.webhook_first_retry_seconds),
            timeout_seconds=settings.webhook_timeout_seconds,
            lease=dt.timedelta(seconds=settings.webhook_lease_seconds),
        ),
        poll_seconds=settings.webhook_poll_seconds,
    )
