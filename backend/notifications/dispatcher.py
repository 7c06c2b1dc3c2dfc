"""The dispatcher: sends due notifications through their channel, across every tenant.

It finds due notifications in rm_notifications (read through the projector role, which sees
every tenant) and acts on each in four steps, each a command on the tenant's own stream:
record the attempt (with a lease; or, if the message no longer holds or quiet hours are on,
what happens instead), look once more right before sending (withdrawn meanwhile? its
appointment ended, its patient died?), call the channel with the idempotency key
`<notification id>:<attempt>`, record the outcome. A crash between the call and the record
leaves the attempt in flight; once its lease runs out a dispatcher sends that same attempt again
with the same key, which the provider deduplicates, and records it. The read model is only a
hint of what is due: each step decides on the stream itself.

A withdrawal can still land while the channel is being called; the message may then be out,
and if the call succeeds it is recorded as sent (model.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TypeVar
from uuid import UUID

import asyncpg
import structlog

from backend import observability
from backend.eventstore import EventStore
from backend.handling import Handler, run_as_worker, utc_now
from backend.notifications import service
from backend.notifications.channels import Channel, Message
from backend.notifications.model import NOTIFICATION, Notification, RetryPolicy
from backend.polling import Poller

log = structlog.get_logger("caretrail.notifications")
T = TypeVar("T")
ACTOR = "dispatcher:notifications"


class Dispatcher(Poller):
    def __init__(
        self,
        projector_pool: asyncpg.Pool,
        store: EventStore,
        channels: Mapping[str, Channel],
        *,
        retry: RetryPolicy | None = None,
        lease: dt.timedelta = dt.timedelta(seconds=60),
        poll_seconds: float = 0.5,
        batch_size: int = 50,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.pool = projector_pool
        self.store = store
        self.channels = channels
        self.retry = retry or RetryPolicy()
        self.lease = lease
        self.batch_size = batch_size
        self.clock = clock
        super().__init__("notification-dispatcher", self.dispatch_due, poll_seconds)

    async def dispatch_due(self) -> int:
        """Act on every notification due now; how many were looked at."""
        rows = await self.pool.fetch(
            "SELECT tenant_id, notification_id FROM rm_notifications WHERE due_at <= $1"
            " ORDER BY due_at LIMIT $2",
            self.clock(),
            self.batch_size,
        )
        for row in rows:
            await self.dispatch(row["tenant_id"], row["notification_id"])
        return len(rows)

    async def dispatch(self, tenant_id: UUID, nid: UUID) -> None:
        """In a span of the trace that queued the notification (the reaction's command)."""
        queued_in = await self.pool.fetchval(
            "SELECT metadata->>'traceparent' FROM events"
            " WHERE tenant_id = $1 AND stream_type = $2 AND stream_id = $3 AND version = 1",
            tenant_id,
            NOTIFICATION.stream_type,
            nid,
        )
        with observability.TRACER.start_as_current_span(
            "notification dispatch",
            context=observability.context_of(queued_in),
            attributes={"caretrail.tenant_id": str(tenant_id), "caretrail.stream_id": str(nid)},
        ):
            claimed = await self.claim(tenant_id, nid)
            if claimed is not None:
                await self.deliver(tenant_id, claimed)

    async def claim(self, tenant_id: UUID, nid: UUID) -> Notification | None:
        """Record the next attempt of a due notification (None: nothing to send now)."""
        return await self._run(tenant_id, nid, lambda s: service.start_attempt(s, nid, self.lease))

    async def deliver(self, tenant_id: UUID, claimed: Notification) -> None:
        """Send a claimed attempt, unless it stopped holding since it was claimed."""
        assert claimed.id is not None
        nid, attempt = claimed.id, claimed.attempts
        if not await self._run(tenant_id, nid, lambda s: service.still_to_send(s, nid, attempt)):
            return
        # Claimed means reachable: no contact escalates when queued, erased when claimed.
        assert claimed.channel is not None and claimed.address is not None
        message = Message(claimed.channel, claimed.address, claimed.body)
        try:
            provider_id = await self.channels[claimed.channel].send(message, f"{nid}:{attempt}")
        except Exception as e:  # whatever the provider call raised is this attempt's failure
            observability.NOTIFICATIONS.labels(claimed.channel, "failed").inc()
            error = f"{type(e).__name__}: {e}"
            log.warning("notification_attempt_failed", notification=str(nid), error=error)
            await self._run(
                tenant_id,
                nid,
                lambda s: service.record_failure(s, nid, attempt, error, self.retry),
            )
            return
        observability.NOTIFICATIONS.labels(claimed.channel, "sent").inc()
        await self._run(tenant_id, nid, lambda s: service.record_sent(s, nid, attempt, provider_id))

    async def _run(self, tenant_id: UUID, nid: UUID, handler: Handler[T]) -> T:
        return await run_as_worker(self.store, ACTOR, tenant_id, str(nid), self.clock(), handler)
