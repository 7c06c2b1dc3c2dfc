"""The notification dispatcher on the real store: nothing is delivered twice when it dies between
the provider call and recording it, failures back off and then escalate.

Each test queues its own notification due a day from now and drives a dispatcher whose clock is
set past that, one notification at a time, so the API process's dispatcher (on the real clock)
leaves it alone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from e2e_helpers import create_patient
from notification_helpers import LEASE, dispatcher, events_of, no_quiet_hours, state_of, types
from support import TenantFixture

from backend.auth.principal import Principal
from backend.eventstore import EventStore
from backend.handling import RequestContext, run_command
from backend.notifications import service
from backend.notifications.channels import FakeChannel, Message
from backend.notifications.model import NOTIFICATION


@dataclass(frozen=True)
class Queued:
    id: uuid.UUID
    send_after: dt.datetime
    body: str


async def queued_notification(
    client: httpx.AsyncClient, tenant: TenantFixture, store: EventStore
) -> Queued:
    """A reminder for a new patient due in a day (no quiet hours in the way)."""
    patient = await create_patient(client, tenant, phone="+1 212 555 0199")
    await no_quiet_hours(client, tenant)
    ctx = RequestContext(
        Principal("test", tenant.id, frozenset()), "req", "corr", dt.datetime.now(dt.UTC)
    )
    due = ctx.now + dt.timedelta(days=1)
    result = await run_command(
        store,
        ctx,
        tenant.id,
        lambda s: service.queue_for_patient(
            s, uuid.uuid4(), uuid.UUID(patient["id"]), "appointment_reminder", {}, due
        ),
    )
    assert result is not None
    queued = await state_of(store, tenant, result.id)
    assert queued.id is not None and queued.send_after is not None
    return Queued(queued.id, queued.send_after, queued.body)


class Crash(BaseException):
    """The process dies: nothing after this point runs (not even `except Exception`)."""


class CrashAfterSend:
    def __init__(self, inner: FakeChannel) -> None:
        self.inner = inner

    async def send(self, message: Message, idempotency_key: str) -> str:
        await self.inner.send(message, idempotency_key)
        raise Crash


class HangAfterSend:
    """The provider took the message, then the connection hangs until the task is cancelled."""

    def __init__(self, inner: FakeChannel) -> None:
        self.inner = inner
        self.sent = asyncio.Event()

    async def send(self, message: Message, idempotency_key: str) -> str:
        await self.inner.send(message, idempotency_key)
        self.sent.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_crash_between_send_and_record_delivers_exactly_once(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    store: EventStore,
    projector_pool: asyncpg.Pool,
) -> None:
    notification = await queued_notification(client, tenant, store)
    nid = notification.id
    provider = FakeChannel("sms")
    t = notification.send_after + dt.timedelta(seconds=1)

    crashing = dispatcher(projector_pool, store, CrashAfterSend(provider), lambda: t)
    try:
        await crashing.dispatch(tenant.id, nid)
        raise AssertionError("the dispatcher did not crash")
    except Crash:
        pass
    assert len(provider.delivered) == 1  # the provider has it; the store does not know yet
    assert types(await events_of(store, tenant, nid))[-1] == "NotificationAttemptStarted"

    clock = {"now": t + dt.timedelta(seconds=30)}
    restarted = dispatcher(projector_pool, store, provider, lambda: clock["now"])
    await restarted.dispatch(tenant.id, nid)  # the crashed sender's lease still holds
    assert types(await events_of(store, tenant, nid))[-1] == "NotificationAttemptStarted"

    clock["now"] = t + LEASE
    await restarted.dispatch(tenant.id, nid)
    await restarted.dispatch(tenant.id, nid)
    events = await events_of(store, tenant, nid)
    assert types(events) == [
        "NotificationQueued",
        "NotificationAttemptStarted",
        "NotificationAttemptStarted",
        "NotificationSent",
    ]
    (delivery,) = provider.delivered
    assert delivery.idempotency_key == f"{nid}:1"
    assert delivery.message == Message("sms", "+12125550199", notification.body)
    state = NOTIFICATION.fold(events)
    assert (state.status, state.attempts) == ("sent", 1)
    assert state.provider_message_id == delivery.provider_message_id


async def test_a_dispatcher_cancelled_mid_send_is_resumed_without_a_second_delivery(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    store: EventStore,
    projector_pool: asyncpg.Pool,
) -> None:
    notification = await queued_notification(client, tenant, store)
    nid = notification.id
    provider = FakeChannel("sms")
    hanging = HangAfterSend(provider)
    t = notification.send_after
    task = asyncio.create_task(
        dispatcher(projector_pool, store, hanging, lambda: t).dispatch(tenant.id, nid)
    )
    await asyncio.wait_for(hanging.sent.wait(), 10)
    task.cancel()  # shutdown (SIGTERM) while waiting on the provider
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await state_of(store, tenant, nid)).status == "sending"

    restarted = dispatcher(projector_pool, store, provider, lambda: t + LEASE)
    await restarted.dispatch(tenant.id, nid)
    state = await state_of(store, tenant, nid)
    assert (state.status, state.attempts) == ("sent", 1)
    assert len(provider.delivered) == 1
    assert state.provider_message_id == provider.delivered[0].provider_message_id


async def test_failures_back_off_then_succeed(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    store: EventStore,
    projector_pool: asyncpg.Pool,
) -> None:
    notification = await queued_notification(client, tenant, store)
    nid = notification.id
    provider = FakeChannel("sms")
    provider.fail_next(1)
    clock = {"now": notification.send_after}
    sender = dispatcher(projector_pool, store, provider, lambda: clock["now"])
    await sender.dispatch(tenant.id, nid)
    state = await state_of(store, tenant, nid)
    assert (state.status, state.last_error) == ("failed", "ChannelError: sms provider unavailable")
    assert state.next_attempt_at == clock["now"] + dt.timedelta(seconds=30)

    clock["now"] += dt.timedelta(seconds=29)
    await sender.dispatch(tenant.id, nid)  # not yet due
    assert (await state_of(store, tenant, nid)).status == "failed"
    clock["now"] += dt.timedelta(seconds=1)
    await sender.dispatch(tenant.id, nid)
    state = await state_of(store, tenant, nid)
    assert (state.status, state.attempts) == ("sent", 2)
    assert [d.idempotency_key for d in provider.delivered] == [f"{nid}:2"]


async def test_three_failures_escalate_to_the_front_desk(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    store: EventStore,
    projector_pool: asyncpg.Pool,
) -> None:
    notification = await queued_notification(client, tenant, store)
    nid = notification.id
    provider = FakeChannel("sms")
    provider.fail_next(5)
    clock = {"now": notification.send_after}
    sender = dispatcher(projector_pool, store, provider, lambda: clock["now"])
    for _ in range(3):
        await sender.dispatch(tenant.id, nid)
        due = (await state_of(store, tenant, nid)).next_attempt_at
        if due is not None:
            clock["now"] = due
    events = await events_of(store, tenant, nid)
    assert types(events)[-2:] == ["NotificationAttemptFailed", "NotificationEscalated"]
    assert types(events).count("NotificationAttemptFailed") == 3
    state = NOTIFICATION.fold(events)
    assert state.status == "escalated"
    assert state.escalation_reason is not None and state.escalation_reason.startswith("3 failed")
    clock["now"] += dt.timedelta(days=1)
    await sender.dispatch(tenant.id, nid)
    assert len(await events_of(store, tenant, nid)) == len(events)
    assert provider.delivered == []
