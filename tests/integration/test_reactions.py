"""Reactions on the real store: a checkpoint per reaction (a restart or a re-delivery queues no
second notification), commands caused by and correlated with their event, and a failing
reaction parked with its error visible until resumed."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import httpx
from dayflow_helpers import reaction_passed
from e2e_helpers import act, booked, now
from infra import stored_events
from notification_helpers import state_of
from support import TenantFixture

from backend.eventstore import EventStore, NewEvent, RecordedEvent, StreamAppend
from backend.notifications.model import notification_id
from backend.notifications.reactions import appointment_reminder
from backend.notifications.templates import APPOINTMENT_REMINDER
from backend.reactions.framework import (
    CHECKPOINT_PREFIX,
    Commands,
    FunctionReaction,
    ReactionSubscription,
    reaction,
)
from backend.scheduling.events import AppointmentConfirmed
from projections.catchup import CatchUpGroup, CatchUpRunner
from projections.service import ProjectionService
from projections.tracking import resume


async def start_at_head(pool: asyncpg.Pool, name: str) -> None:
    """A new reaction's checkpoint at the end of the store: it sees only this test's events."""
    await pool.execute(
        "INSERT INTO projection_checkpoints (name, tx_id, position)"
        " SELECT $1, coalesce(max(tx_id::text::bigint), 0)::text::xid8, coalesce(max(position), 0)"
        " FROM events",
        name,
    )


async def confirmed_event(pool: asyncpg.Pool, appointment_id: str) -> RecordedEvent:
    [event] = await stored_events(
        pool, "stream_id = $1 AND event_type = 'AppointmentConfirmed'", uuid.UUID(appointment_id)
    )
    return event


async def queued_for(pool: asyncpg.Pool, source: RecordedEvent) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM events WHERE event_type = 'NotificationQueued' AND tenant_id = $1"
        " AND data->>'source_event_id' = $2",
        source.tenant_id,
        str(source.event_id),
    )


async def drain(runner: CatchUpRunner | CatchUpGroup) -> int:
    total = 0
    for _ in range(1000):
        applied = await runner.step()
        if applied == 0:
            return total
        total += applied
    raise AssertionError("the runner did not catch up")


def reminder_named(name: str) -> FunctionReaction:
    """The appointment reminder under a checkpoint of the test's own (the API process runs the
    real one at the same time, which must not make a difference either)."""
    return FunctionReaction(name, appointment_reminder.event_types, appointment_reminder.handler)


async def test_a_restarted_or_rewound_reaction_queues_no_second_reminder(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    projector_pool: asyncpg.Pool,
    store: EventStore,
) -> None:
    name = f"reminder-test-{uuid.uuid4().hex[:8]}"
    subscription = ReactionSubscription(reminder_named(name), store)
    await start_at_head(projector_pool, subscription.name)
    start = now() + dt.timedelta(days=2)
    appointments = [await booked(client, tenant, start, confirm=True) for _ in range(3)]
    runner = CatchUpRunner(projector_pool, subscription, batch_size=2)
    began = (await runner.checkpoint()).at
    assert await drain(runner) > 0
    sources = [await confirmed_event(projector_pool, a["id"]) for a in appointments]
    for source in sources:
        assert len(await queued_for(projector_pool, source)) == 1

    restarted = CatchUpRunner(projector_pool, subscription)
    assert await drain(restarted) == 0
    await projector_pool.execute(  # as if the checkpoint had been lost: the events come again
        "UPDATE projection_checkpoints SET tx_id = $2::text::xid8, position = $3 WHERE name = $1",
        subscription.name,
        str(began.tx_id),
        began.position,
    )
    rewound = CatchUpRunner(projector_pool, subscription)
    assert await drain(rewound) >= len(sources)
    for source in sources:
        assert len(await queued_for(projector_pool, source)) == 1
    state = await projector_pool.fetchval(
        "SELECT state FROM projection_checkpoints WHERE name = $1", subscription.name
    )
    assert state == "running"


async def test_a_redelivered_event_records_nothing_and_commands_carry_its_ids(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    projector_pool: asyncpg.Pool,
    store: EventStore,
) -> None:
    appointment = await booked(client, tenant, now() + dt.timedelta(days=2), confirm=True)
    source = await confirmed_event(projector_pool, appointment["id"])
    for _ in range(3):
        commands = Commands(store, appointment_reminder.name, source)
        await appointment_reminder.handle(source, commands)
    (queued,) = await queued_for(projector_pool, source)
    metadata: dict[str, Any] = queued["metadata"]
    assert metadata["actor"] == "reaction:appointment-reminder"
    assert metadata["causation_id"] == str(source.event_id)
    assert metadata["correlation_id"] == source.metadata["correlation_id"]
    assert queued["tenant_id"] == tenant.id


async def test_a_reminder_is_not_queued_for_an_appointment_cancelled_meanwhile(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    projector_pool: asyncpg.Pool,
    store: EventStore,
) -> None:
    appointment = await booked(client, tenant, now() + dt.timedelta(days=2), confirm=True)
    source = await confirmed_event(projector_pool, appointment["id"])
    await act(client, tenant, appointment["id"], "cancel", {"reason": "patient called"})
    fresh = str(uuid.uuid4())  # a confirmation the API process has not reacted to
    redelivered = RecordedEvent(**{**source.__dict__, "event_id": uuid.UUID(fresh)})
    await appointment_reminder.handle(redelivered, Commands(store, "test", redelivered))
    assert await queued_for(projector_pool, redelivered) == []


class Boom(Exception):
    pass


async def test_a_failing_reaction_parks_with_its_error_until_resumed(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    projector_pool: asyncpg.Pool,
    store: EventStore,
) -> None:
    calls: list[uuid.UUID] = []
    failing = {"on": True}
    name = f"failing-{uuid.uuid4().hex[:8]}"

    @reaction(name, AppointmentConfirmed)
    async def fragile(event: RecordedEvent, commands: Commands) -> None:
        calls.append(event.event_id)
        if failing["on"]:
            raise Boom("downstream refused")

    subscription = ReactionSubscription(fragile, store)
    await start_at_head(projector_pool, subscription.name)
    appointment = await booked(client, tenant, now() + dt.timedelta(days=2), confirm=True)
    source = await confirmed_event(projector_pool, appointment["id"])
    service = ProjectionService(projector_pool, [subscription], group=name)
    runner = service.group
    await drain(runner)
    (status,) = await service.status()
    assert (status.name, status.state) == (CHECKPOINT_PREFIX + name, "parked")
    assert status.last_error == "Boom: downstream refused"
    assert status.error_position == source.position
    assert await drain(runner) == 0  # parked: neither retried in a loop nor skipped

    failing["on"] = False
    assert await resume(projector_pool, subscription.name)
    await drain(runner)
    (status,) = await service.status()
    assert status.state == "running"
    assert calls.count(source.event_id) >= 2


async def test_a_replay_withdraws_a_reminder_queued_before_withdrawals_existed(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    projector_pool: asyncpg.Pool,
    store: EventStore,
) -> None:
    """What migration 0015's replay of the reminder reaction mends: a reminder stored in the
    v1 shape (naming no appointment) for a week-old slot, whose appointment was cancelled
    before any reaction withdrew reminders, is withdrawn when the reaction passes the
    cancellation again."""
    name = f"reminder-replay-{uuid.uuid4().hex[:8]}"
    subscription = ReactionSubscription(reminder_named(name), store)
    await start_at_head(projector_pool, subscription.name)
    appointment = await booked(
        client,
        tenant,
        now() - dt.timedelta(days=7),
        confirm=True,
        back_charting_reason="charted late",
    )
    source = await confirmed_event(projector_pool, appointment["id"])
    cancelled = await act(client, tenant, appointment["id"], "cancel", {"reason": "never came"})
    await reaction_passed(client, tenant, appointment_reminder.name, cancelled["position"])
    nid = notification_id(source.event_id, APPOINTMENT_REMINDER)
    legacy = {
        "notification_id": str(nid),
        "patient_id": appointment["patient_id"],
        "channel": "sms",
        "address": "+1 212 555 0101",
        "template": APPOINTMENT_REMINDER,
        "body": "Hello, this is a reminder of your appointment.",
        # Due tomorrow: the API process's dispatcher (on the real clock) leaves it alone, at
        # any hour (today's would go out at once outside the default quiet hours, 21:00-08:00
        # UTC, if the dispatcher came to it before the replay below).
        "send_after": (now() + dt.timedelta(days=1)).isoformat(),
        "source_event_id": str(source.event_id),
    }
    queued = NewEvent(uuid.uuid4(), "NotificationQueued", legacy, now(), {}, schema_version=1)
    await store.append(tenant.id, [StreamAppend("notification", nid, 0, (queued,))])
    assert (await state_of(store, tenant, nid)).status == "queued"  # the API's reaction is past

    await drain(CatchUpRunner(projector_pool, subscription))
    state = await state_of(store, tenant, nid)
    assert (state.status, state.appointment_id) == ("withdrawn", None)
    assert state.withdrawal_reason == "appointment cancelled"
