"""The webhook dispatcher: follows the store for every active subscription, of every tenant,
and delivers each event of its types to its URL, in the global order, one at a time.

Each subscription is a catch-up subscriber with its own checkpoint (its place in
`webhook_subscriptions`, table.py), read gap-safe: only events of transactions below the event
horizon, taken before the read, so none can commit later behind a place already passed. The
place moves past an event only once its receiver answered 2xx, so delivery is at least once
and in order (per subscription, so per stream); every attempt at one event carries the same
`webhook-id`. A failed attempt is retried with exponential backoff, the same event first; after
`max_failures` in a row the subscription is disabled, with the reason, by a command on its
stream, as when its key is revoked or expires. A replay moves the place back (service.py).

Dispatchers of several processes share the work through leases: one claims a subscription
for `lease` (renewed at each delivery) and gives it back when done or stopped; a dispatcher
killed outright leaves its claim to lapse. Replaying, deleting or disabling ends the lease, so
a dispatcher delivering meanwhile stops at its next step.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from dataclasses import dataclass
from uuid import UUID, uuid4

import asyncpg
import httpx
import structlog

from backend import observability
from backend.auth.scopes import EVENTS_READ, PATIENTS_READ
from backend.eventstore import EventStore, RecordedEvent
from backend.eventstore.signal import pace
from backend.eventstore.store import read_tenant_after
from backend.eventstore.types import GlobalCheckpoint
from backend.handling import run_as_worker, utc_now
from backend.privacy import keys
from backend.webhooks import messages, service, signing, table
from backend.webhooks.addresses import OutboundRules, Refused

log = structlog.get_logger("caretrail.webhooks")
ACTOR = "dispatcher:webhooks"
LAST_PLACE = 2**63 - 1
ERROR_MAX = 500
PASS_GAP_SECONDS = 0.25
"""The least time between two passes that found nothing to send: woken by every commit, the
dispatcher would otherwise run its claim once per command."""


@dataclass(frozen=True)
class DeliveryPolicy:
    max_failures: int = 10
    first_retry: dt.timedelta = dt.timedelta(seconds=10)
    """The wait after the first failure; each next one doubles, up to `longest_wait`."""
    longest_wait: dt.timedelta = dt.timedelta(hours=1)
    timeout_seconds: float = 10.0
    lease: dt.timedelta = dt.timedelta(seconds=60)

    def wait_after(self, failures: int) -> dt.timedelta:
        wait: dt.timedelta = self.first_retry * 2 ** (failures - 1)
        return min(wait, self.longest_wait)


@dataclass(frozen=True)
class Claimed:
    id: UUID
    tenant_id: UUID
    key_id: UUID
    url: str
    types: tuple[str, ...]
    sealed_secret: bytes
    after: GlobalCheckpoint
    failures: int


class WebhookDispatcher:
    def __init__(
        self,
        projector_pool: asyncpg.Pool,
        store: EventStore,
        rules: OutboundRules,
        policy: DeliveryPolicy | None = None,
        *,
        poll_seconds: float = 0.5,
        batch_size: int = 50,
        concurrency: int = 16,
    ) -> None:
        self.pool = projector_pool
        self.store = store
        self.rules = rules
        self.policy = policy or DeliveryPolicy()
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.concurrency = concurrency
        self._task: asyncio.Task[None] | None = None
        self._troubled = False
        """A pass met an unexpected error: the next waits, rather than spin on it."""

    async def deliver_due(self) -> int:
        """One pass: claim the subscriptions with events to deliver and deliver them; how many
        were claimed."""
        token = uuid4()
        claimed, horizon = await self._claim(token)
        if claimed:
            timeout = httpx.Timeout(self.policy.timeout_seconds)
            async with httpx.AsyncClient(
                timeout=timeout, follow_redirects=False, trust_env=False
            ) as client:
                await asyncio.gather(*(self._serve(client, c, horizon, token) for c in claimed))
        return len(claimed)

    async def _claim(self, token: UUID) -> tuple[list[Claimed], int]:
        """The subscriptions claimed, and the event horizon their deliveries read below, taken
        in the same statement (one round trip a pass). The statement's own snapshot may miss an
        event below that horizon that committed as it ran: the subscription is then found by the
        next pass; the deliveries' reads are later statements and see every event below it."""
        rows = await self.pool.fetch(
            "WITH h AS MATERIALIZED (SELECT event_horizon()::text::bigint AS horizon),"
            " due AS (SELECT s.subscription_id FROM webhook_subscriptions s"
            "  WHERE s.state = 'active'"
            "  AND (s.next_attempt_at IS NULL OR s.next_attempt_at <= now())"
            "  AND (s.leased_until IS NULL OR s.leased_until < now())"
            "  AND EXISTS (SELECT 1 FROM events e WHERE e.tenant_id = s.tenant_id"
            "   AND (e.tx_id, e.position) > (s.after_tx::text::xid8, s.after_position)"
            "   AND e.tx_id < (SELECT horizon FROM h)::text::xid8)"
            "  ORDER BY s.next_attempt_at NULLS FIRST LIMIT $1 FOR UPDATE SKIP LOCKED)"
            " UPDATE webhook_subscriptions s SET lease_token = $2,"
            "  leased_until = now() + make_interval(secs => $3)"
            " FROM due, h WHERE s.subscription_id = due.subscription_id"
            " RETURNING s.subscription_id, s.tenant_id, s.key_id, s.url, s.types,"
            "  s.sealed_secret, s.after_tx, s.after_position, s.failures, h.horizon",
            self.concurrency,
            token,
            self.policy.lease.total_seconds(),
        )
        horizon = rows[0]["horizon"] if rows else 0
        return [
            Claimed(
                r["subscription_id"],
                r["tenant_id"],
                r["key_id"],
                r["url"],
                tuple(r["types"]),
                r["sealed_secret"],
                GlobalCheckpoint(r["after_tx"], r["after_position"]),
                r["failures"],
            )
            for r in rows
        ], horizon

    async def _serve(
        self, client: httpx.AsyncClient, sub: Claimed, horizon: int, token: UUID
    ) -> None:
        try:
            await self._deliver_batch(client, sub, horizon, token)
        except Exception:  # one subscription's trouble must not stop the others
            log.exception("webhook_batch_failed", subscription=str(sub.id))
            self._troubled = True
        finally:
            await self.pool.execute(
                "UPDATE webhook_subscriptions SET lease_token = NULL, leased_until = NULL"
                " WHERE subscription_id = $1 AND lease_token = $2",
                sub.id,
                token,
            )

    async def _deliver_batch(
        self, client: httpx.AsyncClient, sub: Claimed, horizon: int, token: UUID
    ) -> None:
        scopes = await self._key_scopes(sub)
        if scopes is None:
            return
        events = await read_tenant_after(
            self.pool, sub.tenant_id, sub.after, horizon, self.batch_size, sub.types
        )
        if PATIENTS_READ in scopes and events:
            async with self.pool.acquire() as conn:
                events = await keys.unseal(conn, events)
        key = table.open_secret(sub.tenant_id, sub.id, sub.sealed_secret)
        for event in events:
            with observability.TRACER.start_as_current_span(
                "webhook deliver",
                context=observability.context_of(event.metadata.get("traceparent")),
                attributes={
                    "caretrail.tenant_id": str(sub.tenant_id),
                    "caretrail.subscription_id": str(sub.id),
                    "caretrail.event_type": event.event_type,
                    "caretrail.position": event.position,
                },
            ) as span:
                error = await self._send(client, sub, key, event)
                outcome = "delivered" if error is None else "failed"
                span.set_attribute("caretrail.outcome", outcome)
                observability.WEBHOOK_DELIVERIES.labels(outcome).inc()
            if error is not None:
                await self._failed(sub, token, event, error)
                return
            if not await self._advance(sub, token, _place(event), event.position):
                return  # replayed, deleted or disabled meanwhile: the next pass starts anew
        if len(events) < self.batch_size:  # nothing more it wants below the horizon
            await self._advance(sub, token, GlobalCheckpoint(horizon - 1, LAST_PLACE), None)

    async def _key_scopes(self, sub: Claimed) -> frozenset[str] | None:
        """The scopes of the subscription's key, or None when it may no longer receive (the
        subscription is then disabled, saying why)."""
        row = await self.pool.fetchrow(
            "SELECT scopes, revoked_at IS NOT NULL AS revoked,"
            " coalesce(expires_at <= now(), false) AS expired FROM api_keys WHERE key_id = $1",
            sub.key_id,
        )
        reason = None
        if row is None or row["revoked"]:
            reason = f"its API key {sub.key_id} was revoked"
        elif row["expired"]:
            reason = f"its API key {sub.key_id} has expired"
        elif EVENTS_READ not in row["scopes"]:
            reason = f"its API key {sub.key_id} lacks the scope {EVENTS_READ}"
        if reason is not None:
            await self._disable(sub, reason, None)
            return None
        assert row is not None
        return frozenset(row["scopes"])

    async def _send(
        self, client: httpx.AsyncClient, sub: Claimed, key: bytes, event: RecordedEvent
    ) -> str | None:
        """Why the delivery failed, or None: the receiver answered 2xx."""
        content = messages.body(event)
        message_id = signing.message_id(sub.id, event.event_id)
        timestamp = int(time.time())
        try:
            target = await self.rules.target(sub.url)
            headers = {
                "host": target.host_header,
                "content-type": "application/json",
                "user-agent": "Caretrail-Webhooks/1",
                "webhook-id": message_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": signing.signature(key, message_id, timestamp, content),
            }
            async with client.stream(
                "POST",
                target.url,
                content=content,
                headers=headers,
                extensions=target.request_extensions(),
            ) as response:  # its body is never read: a receiver cannot make us hold much
                status = response.status_code
        except Refused as e:
            return f"refused: {e}"
        except httpx.HTTPError as e:
            return f"{type(e).__name__}: {e}"[:ERROR_MAX] if str(e) else type(e).__name__
        return None if 200 <= status < 300 else f"the receiver answered HTTP {status}"

    async def _advance(
        self, sub: Claimed, token: UUID, place: GlobalCheckpoint, delivered: int | None
    ) -> bool:
        """Move the subscription's place on (and its lease), if it still holds the lease."""
        moved = await self.pool.execute(
            "UPDATE webhook_subscriptions SET after_tx = $3, after_position = $4, failures = 0,"
            " last_error = NULL, next_attempt_at = NULL,"
            " delivered_position = coalesce($5, delivered_position),"
            " delivered_at = CASE WHEN $5::bigint IS NULL THEN delivered_at ELSE now() END,"
            " leased_until = now() + make_interval(secs => $6)"
            " WHERE subscription_id = $1 AND lease_token = $2",
            sub.id,
            token,
            place.tx_id,
            place.position,
            delivered,
            self.policy.lease.total_seconds(),
        )
        return bool(moved == "UPDATE 1")

    async def _failed(self, sub: Claimed, token: UUID, event: RecordedEvent, error: str) -> None:
        failures = sub.failures + 1
        log.warning(
            "webhook_delivery_failed", subscription=str(sub.id), failures=failures, error=error
        )
        wait = self.policy.wait_after(failures)
        recorded = await self.pool.execute(
            "UPDATE webhook_subscriptions SET failures = $3, last_error = $4,"
            " next_attempt_at = now() + make_interval(secs => $5)"
            " WHERE subscription_id = $1 AND lease_token = $2",
            sub.id,
            token,
            failures,
            error,
            wait.total_seconds(),
        )
        if recorded == "UPDATE 1" and failures >= self.policy.max_failures:
            reason = f"{failures} deliveries failed in a row; the last: {error}"
            await self._disable(sub, reason, event.position)

    async def _disable(self, sub: Claimed, reason: str, position: int | None) -> None:
        await run_as_worker(
            self.store,
            ACTOR,
            sub.tenant_id,
            str(sub.id),
            utc_now(),
            lambda s: service.disable(s, sub.id, reason, position),
        )

    async def run(self) -> None:
        wake = self.store.appended.subscribe()
        try:
            while True:
                self._troubled = False
                began = time.monotonic()
                try:
                    claimed = await self.deliver_due()
                except Exception:  # a background loop outlives any one failure; it is logged
                    log.exception("webhook_pass_failed")
                    claimed = 0
                if not claimed or self._troubled:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), self.poll_seconds)
                    wake.clear()
                    await pace(began, PASS_GAP_SECONDS)
        finally:
            self.store.appended.unsubscribe(wake)

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run())

    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """At once, even mid-delivery (as a crash would): what was in flight is sent again,
        with the same `webhook-id`, by the next pass of whichever dispatcher claims it."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


def _place(event: RecordedEvent) -> GlobalCheckpoint:
    return GlobalCheckpoint(event.tx_id, event.position)
