"""The dispatcher: sends due notifications through their channel, across every tenant.

It finds due notifications in rm_notifications (read through the projector role, which sees
every tenant) and acts on each in three steps, each a command on the tenant's own stream:
record the attempt (with a lease), call the channel with the idempotency key
`<notification id>:<attempt>`, record the outcome. A crash between the call and the record
leaves the attempt in flight; once its lease runs out a dispatcher sends that same attempt again
with the same key, which the provider deduplicates, and records it. The read model is only a
hint of what is due: each step decides on the stream itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable, Mapping
from typing import TypeVar
from uuid import UUID, uuid4

import asyncpg
import structlog

from backend.auth.principal import Principal
from backend.eventstore import EventStore
from backend.handling import Handler, RequestContext, run_command
from backend.notifications import service
from backend.notifications.channels import Channel, Message
from backend.notifications.model import RetryPolicy

log = structlog.get_logger("caretrail.notifications")
T = TypeVar("T")
ACTOR = "dispatcher:notifications"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Dispatcher:
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
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.clock = clock
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

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
        claimed = await self._run(
            tenant_id, nid, lambda s: service.start_attempt(s, nid, self.lease)
        )
        if claimed is None:
            return
        # Claimed means reachable: no contact escalates when queued, erased when claimed.
        assert claimed.channel is not None and claimed.address is not None
        attempt = claimed.attempts
        message = Message(claimed.channel, claimed.address, claimed.body)
        try:
            provider_id = await self.channels[claimed.channel].send(message, f"{nid}:{attempt}")
        except Exception as e:  # whatever the provider call raised is this attempt's failure
            error = f"{type(e).__name__}: {e}"
            log.warning("notification_attempt_failed", notification=str(nid), error=error)
            await self._run(
                tenant_id,
                nid,
                lambda s: service.record_failure(s, nid, attempt, error, self.retry),
            )
            return
        await self._run(tenant_id, nid, lambda s: service.record_sent(s, nid, attempt, provider_id))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.dispatch_due()
            except Exception:  # a background loop outlives any one failure; it is logged
                log.exception("dispatch_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_seconds)

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(self._stop))

    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self, tenant_id: UUID, nid: UUID, handler: Handler[T]) -> T:
        ctx = RequestContext(
            principal=Principal(ACTOR, tenant_id, frozenset()),
            request_id=str(uuid4()),
            correlation_id=str(nid),
            now=self.clock(),
        )
        return await run_command(self.store, ctx, tenant_id, handler)
