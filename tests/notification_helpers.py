"""Notifications in tests: tenant quiet hours, a confirmed appointment, waiting for the reminder
it queues; a notification's stream and a dispatcher on a clock of the test's own."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from e2e_helpers import act, book, create_patient, create_practitioner, now, set_policy
from infra import stored_events
from support import TenantFixture

from backend.eventstore import EventStore
from backend.kernel.events import DomainEvent, revive
from backend.notifications.channels import Channel
from backend.notifications.dispatcher import Dispatcher
from backend.notifications.model import NOTIFICATION, Notification, RetryPolicy, notification_id
from backend.notifications.templates import APPOINTMENT_REMINDER
from backend.privacy import keys

WAIT_SECONDS = 15
LEASE = dt.timedelta(seconds=60)


async def no_quiet_hours(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    await set_policy(client, tenant, quiet_hours_start="00:00", quiet_hours_end="00:00")


async def confirmed_for(
    client: httpx.AsyncClient, tenant: TenantFixture, patient: dict[str, Any]
) -> dict[str, Any]:
    practitioner = await create_practitioner(client, tenant, "Dr. Meredith Grey")
    start = now() + dt.timedelta(hours=2)
    r = await book(
        client, tenant, patient["id"], practitioner["id"], start, start + dt.timedelta(minutes=30)
    )
    assert r.status_code == 201, r.text
    return await act(client, tenant, r.json()["id"], "confirm")


async def notifications_of(
    client: httpx.AsyncClient, tenant: TenantFixture, patient_id: str, **params: str
) -> list[dict[str, Any]]:
    r = await client.get(
        "/v1/notifications",
        params={"patient_id": patient_id, **params},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert r.status_code == 200, r.text
    assert int(r.headers["X-Projection-Position"]) > 0
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def notifications_after_reactions(
    client: httpx.AsyncClient, tenant: TenantFixture, patient_id: str
) -> list[dict[str, Any]]:
    """The patient's notifications including whatever reactions that have passed an event
    recorded for it: read at the position of a command made now, which the read model reaches
    only after everything committed before."""
    marker = await create_patient(client, tenant)
    return await notifications_of(client, tenant, patient_id, min_position=str(marker["position"]))


async def wait_for(
    client: httpx.AsyncClient, tenant: TenantFixture, patient_id: str, status: str
) -> list[dict[str, Any]]:
    return await wait_until(client, tenant, patient_id, lambda n: n["status"] == status, status)


async def wait_until(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    patient_id: str,
    check: Callable[[dict[str, Any]], bool],
    what: str = "matching",
) -> list[dict[str, Any]]:
    """The patient's notifications, once one of them passes `check`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while True:
        items = await notifications_of(client, tenant, patient_id)
        if any(check(n) for n in items):
            return items
        assert loop.time() < deadline, f"no {what} notification: {items}"
        await asyncio.sleep(0.1)


async def events_of(store: EventStore, tenant: TenantFixture, nid: uuid.UUID) -> list[DomainEvent]:
    async with store.transaction(tenant.id) as conn:
        recorded = await keys.unseal(conn, await store.read_stream(conn, "notification", nid))
    return [revive(e) for e in recorded]


async def state_of(store: EventStore, tenant: TenantFixture, nid: uuid.UUID) -> Notification:
    return NOTIFICATION.fold(await events_of(store, tenant, nid))


def types(events: list[DomainEvent]) -> list[str]:
    return [e.type_name() for e in events]


def dispatcher(
    projector_pool: asyncpg.Pool,
    store: EventStore,
    channel: Channel,
    clock: Callable[[], dt.datetime],
) -> Dispatcher:
    """A dispatcher of the test's own, sending sms through `channel` at the time `clock` says
    (the API process's dispatcher, on the real clock, leaves a message due later alone)."""
    return Dispatcher(
        projector_pool,
        store,
        {"sms": channel},
        retry=RetryPolicy(max_attempts=3, first_delay=dt.timedelta(seconds=30)),
        lease=LEASE,
        clock=clock,
    )


@dataclass(frozen=True)
class Reminder:
    """A confirmed appointment three days ahead and its reminder, queued and due in two."""

    appointment: dict[str, Any]
    patient: dict[str, Any]
    id: uuid.UUID
    send_after: dt.datetime


async def pending_reminder(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    store: EventStore,
    projector_pool: asyncpg.Pool,
) -> Reminder:
    await no_quiet_hours(client, tenant)
    patient = await create_patient(client, tenant, phone="+1 212 555 0101")
    practitioner = await create_practitioner(client, tenant, "Dr. Alice Grey")
    start = now().replace(microsecond=0) + dt.timedelta(days=3)
    r = await book(
        client, tenant, patient["id"], practitioner["id"], start, start + dt.timedelta(minutes=30)
    )
    assert r.status_code == 201, r.text
    appointment = await act(client, tenant, r.json()["id"], "confirm")
    [confirmed] = await stored_events(
        projector_pool,
        "stream_id = $1 AND event_type = 'AppointmentConfirmed'",
        uuid.UUID(appointment["id"]),
    )
    nid = notification_id(confirmed.event_id, APPOINTMENT_REMINDER)
    queued = await stream_settles(store, tenant, nid, lambda n: n.status == "queued")
    assert queued.send_after == start - dt.timedelta(days=1)
    return Reminder(appointment, patient, nid, queued.send_after)


async def stream_settles(
    store: EventStore,
    tenant: TenantFixture,
    nid: uuid.UUID,
    check: Callable[[Notification], bool],
) -> Notification:
    """The notification's state (from its stream) once it passes `check`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while True:
        state = await state_of(store, tenant, nid)
        if check(state):
            return state
        assert loop.time() < deadline, f"notification {nid} stuck at {state}"
        await asyncio.sleep(0.05)
