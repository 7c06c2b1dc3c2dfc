"""A reminder follows its appointment and its patient, on the real store: withdrawn when the
appointment ends, not sent to a patient who died or was admitted meanwhile, held back by the
quiet hours the policy names when it comes due, and the race of a withdrawal with a dispatcher
that is sending.

Each reminder is for an appointment three days ahead, due in two, and a dispatcher of the
test's own acts on it at that time (the API process's dispatcher, on the real clock, leaves it
alone); the API process's reactions withdraw it as they would in production.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
from admission_helpers import admit_raw, define_ward
from e2e_helpers import act
from notification_helpers import (
    LEASE,
    dispatcher,
    events_of,
    pending_reminder,
    set_policy,
    state_of,
    stream_settles,
    types,
)
from support import TenantFixture, new_tenant

from backend.auth.principal import Principal
from backend.eventstore import EventStore
from backend.handling import RequestContext, run_command
from backend.notifications.channels import FakeChannel, Message
from backend.notifications.events import NotificationWithdrawn
from backend.scheduling import service as scheduling


class EndsWhileSending:
    """A provider that takes the message only after something else happened meanwhile."""

    def __init__(self, inner: FakeChannel, meanwhile: Callable[[], Awaitable[None]]) -> None:
        self.inner = inner
        self.meanwhile = meanwhile

    async def send(self, message: Message, idempotency_key: str) -> str:
        await self.meanwhile()
        return await self.inner.send(message, idempotency_key)


async def test_a_cancelled_appointments_reminder_is_withdrawn_and_never_sent(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    store: EventStore,
    projector_pool: asyncpg.Pool,
) -> None:
    reminder = await pending_reminder(client, tenant, store, projector_pool)
    await act(client, tenant, reminder.appointment["id"], "cancel", {"reason": "rebooked"})
    state = await stream_settles(store, tenant, reminder.id, lambda n: n.status == "withdrawn")
    assert (state.withdrawal_reason, state.withdrawn_during_attempt) == (
        "appointment cancelled",
        None,
    )
    provider = FakeChannel("sms")
    due = reminder.send_after
    await dispatcher(projector_pool, store, provider, lambda: due).dispatch(tenant.id, reminder.id)
    assert provider.delivered == []
    assert types(await events_of(store, tenant, reminder.id)) == [
        "NotificationQueued",
        "NotificationWithdrawn",
    ]


async def test_a_no_show_withdraws_the_reminder(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    store: EventStore,
    projector_pool: asyncpg.Pool,
) -> None:
    reminder = await pending_reminder(client, tenant, store, projector_pool)
    after_start = dt.datetime.fromisoformat(reminder.appointment["start"]) + dt.timedelta(
        minutes=20
    )
    ctx = RequestContext(Principal("desk", tenant.id, frozenset()), "r", "c", after_start)
    appointment_id = uuid.UUID(reminder.appointment["id"])
    await run_command(store, ctx, tenant.id, lambda s: scheduling.mark_no_show(s, appointment_id))
    state = await stream_settles(store, tenant, reminder.id, lambda n: n.status == "withdrawn")
    assert state.withdrawal_reason == "patient did not come (no-show)"


async def test_a_withdrawal_between_claim_and_send_stops_the_sender(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    store: EventStore,
    projector_pool: asyncpg.Pool,
) -> None:
    reminder = await pending_reminder(client, tenant, store, projector_pool)
    provider = FakeChannel("sms")
    due = reminder.send_after
    sender = dispatcher(projector_pool, store, provider, lambda: due)
    claimed = await sender.claim(tenant.id, reminder.id)
    assert claimed is not None and claimed.status == "sending"

    await act(client, tenant, reminder.appointment["id"], "cancel", {"reason": "rebooked"})
    await stream_settles(store, tenant, reminder.id, lambda n: n.status == "withdrawn")
    await sender.deliver(tenant.id, claimed)

    assert provider.delivered == []
    events = await events_of(store, tenant, reminder.id)
    assert events[-1] == NotificationWithdrawn(reminder.id, "appointment cancelled", 1)
    later = dispatcher(projector_pool, store, provider, lambda: due + 2 * LEASE)
    await later.dispatch(tenant.id, reminder.id)  # withdrawn: no one takes the lease over
    assert provider.delivered == []
    assert len(await events_of(store, tenant, reminder.id)) == len(events)


async def test_the_last_look_before_sending_sees_a_death_recorded_meanwhile(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    store: EventStore,
    projector_pool: asyncpg.Pool,
) -> None:
    """No reaction withdraws reminders at a death: the dispatcher's own re-check does."""
    reminder = await pending_reminder(client, tenant, store, projector_pool)
    provider = FakeChannel("sms")
    due = reminder.send_after
    sender = dispatcher(projector_pool, store, provider, lambda: due)
    claimed = await sender.claim(tenant.id, reminder.id)
    assert claimed is not None

    r = await client.post(
        f"/v1/patients/{reminder.patient['id']}/death", headers=tenant.as_role("DOCTOR")
    )
    assert r.status_code == 200, r.text
    await sender.deliver(tenant.id, claimed)

    assert provider.delivered == []
    state = await state_of(store, tenant, reminder.id)
    assert (state.status, state.withdrawal_reason) == ("withdrawn", "patient deceased")


async def test_a_withdrawal_during_the_channel_call_is_kept_and_the_send_recorded(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    store: EventStore,
    projector_pool: asyncpg.Pool,
) -> None:
    """The cancellation lands after the last look, while the provider is taking the message:
    the message is out, so the notification reads `sent`, and the withdrawal stays on record."""
    reminder = await pending_reminder(client, tenant, store, projector_pool)

    async def cancel_meanwhile() -> None:
        await act(client, tenant, reminder.appointment["id"], "cancel", {"reason": "moved"})
        await stream_settles(store, tenant, reminder.id, lambda n: n.status == "withdrawn")

    provider = FakeChannel("sms")
    due = reminder.send_after
    channel = EndsWhileSending(provider, cancel_meanwhile)
    await dispatcher(projector_pool, store, channel, lambda: due).dispatch(tenant.id, reminder.id)

    assert len(provider.delivered) == 1
    events = await events_of(store, tenant, reminder.id)
    assert types(events) == [
        "NotificationQueued",
        "NotificationAttemptStarted",
        "NotificationWithdrawn",
        "NotificationSent",
    ]
    state = await state_of(store, tenant, reminder.id)
    assert (state.status, state.withdrawal_reason, state.withdrawn_during_attempt) == (
        "sent",
        "appointment cancelled",
        1,
    )
    assert state.provider_message_id == provider.delivered[0].provider_message_id


async def test_a_patient_who_died_before_the_reminder_was_due_is_sent_nothing(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    store: EventStore,
    projector_pool: asyncpg.Pool,
) -> None:
    reminder = await pending_reminder(client, tenant, store, projector_pool)
    r = await client.post(
        f"/v1/patients/{reminder.patient['id']}/death", headers=tenant.as_role("NURSE")
    )
    assert r.status_code == 200, r.text
    provider = FakeChannel("sms")
    due = reminder.send_after
    await dispatcher(projector_pool, store, provider, lambda: due).dispatch(tenant.id, reminder.id)
    assert provider.delivered == []
    state = await state_of(store, tenant, reminder.id)
    assert (state.status, state.withdrawal_reason, state.attempts) == (
        "withdrawn",
        "patient deceased",
        0,
    )


async def test_an_inpatient_gets_no_outpatient_reminder(
    client: httpx.AsyncClient, store: EventStore, projector_pool: asyncpg.Pool
) -> None:
    hospital = await new_tenant(client, kind="hospital")
    reminder = await pending_reminder(client, hospital, store, projector_pool)
    ward = await define_ward(client, hospital, "Medicine", ["M1"])
    r = await admit_raw(client, hospital, reminder.patient["id"], ward["id"], "M1")
    assert r.status_code == 201, r.text
    provider = FakeChannel("sms")
    due = reminder.send_after
    sender = dispatcher(projector_pool, store, provider, lambda: due)
    await sender.dispatch(hospital.id, reminder.id)
    assert provider.delivered == []
    state = await state_of(store, hospital, reminder.id)
    assert (state.status, state.withdrawal_reason) == ("withdrawn", "patient admitted")


async def test_quiet_hours_are_the_policy_of_the_moment_of_sending(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    store: EventStore,
    projector_pool: asyncpg.Pool,
) -> None:
    """The reminder was queued without quiet hours; the policy then gained quiet hours around
    its due time: it waits for their end, and goes out then."""
    reminder = await pending_reminder(client, tenant, store, projector_pool)
    due = reminder.send_after
    quiet_end = (due + dt.timedelta(hours=1)).replace(second=0, microsecond=0)
    await set_policy(
        client,
        tenant,
        timezone="UTC",
        quiet_hours_start=(due - dt.timedelta(hours=1)).strftime("%H:%M"),
        quiet_hours_end=quiet_end.strftime("%H:%M"),
    )
    provider = FakeChannel("sms")
    clock = {"now": due}
    sender = dispatcher(projector_pool, store, provider, lambda: clock["now"])
    await sender.dispatch(tenant.id, reminder.id)
    state = await state_of(store, tenant, reminder.id)
    assert (state.status, state.send_after, state.due_at) == ("queued", quiet_end, quiet_end)
    assert provider.delivered == []

    clock["now"] = quiet_end
    await sender.dispatch(tenant.id, reminder.id)
    assert (await state_of(store, tenant, reminder.id)).status == "sent"
    assert len(provider.delivered) == 1
