"""The waitlist end to end: a cancelled slot is offered to the first in line through the
notifications outbox, the offer expires (the durable expiry) and passes to the next patient,
who accepts and is booked. A hold that runs out frees its slot for the waitlist the same way."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import asyncpg
import httpx
from e2e_helpers import (
    act,
    act_raw,
    assert_problem,
    book,
    create_patient,
    create_practitioner,
    iso,
    now,
)
from infra import stored_events
from notification_helpers import no_quiet_hours, wait_until
from support import TenantFixture

from backend.eventstore import EventStore
from backend.reactions.framework import Commands
from backend.scheduling.timers import SchedulingTimers
from backend.scheduling.waitlist import waitlist_stream_id
from backend.scheduling.waitlist_reactions import waitlist_offers

WAIT_SECONDS = 15
H = dt.timedelta(hours=1)


async def join(
    client: httpx.AsyncClient, tenant: TenantFixture, patient_id: str, practitioner_id: str
) -> dict[str, Any]:
    today = now().date()
    r = await client.post(
        "/v1/waitlist",
        json={
            "patient_id": patient_id,
            "practitioner_id": practitioner_id,
            "from_date": today.isoformat(),
            "to_date": (today + dt.timedelta(days=7)).isoformat(),
        },
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def entry_when(
    client: httpx.AsyncClient, tenant: TenantFixture, entry_id: str, status: str
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while True:
        r = await client.get("/v1/waitlist", headers=tenant.as_role("RECEPTIONIST"))
        assert r.status_code == 200, r.text
        entry = next(e for e in r.json()["items"] if e["id"] == entry_id)
        if entry["status"] == status:
            return entry
        assert loop.time() < deadline, entry
        await asyncio.sleep(0.05)


async def test_a_freed_slot_is_offered_then_passes_on_when_the_offer_expires(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    projector_pool: asyncpg.Pool,
    store: EventStore,
) -> None:
    await no_quiet_hours(client, tenant)
    practitioner = await create_practitioner(client, tenant)
    first, second, booked = [await create_patient(client, tenant) for _ in range(3)]
    first_entry = await join(client, tenant, first["id"], practitioner["id"])
    second_entry = await join(client, tenant, second["id"], practitioner["id"])
    again = await client.post(
        "/v1/waitlist",
        json={
            "patient_id": first["id"],
            "practitioner_id": practitioner["id"],
            "from_date": now().date().isoformat(),
            "to_date": now().date().isoformat(),
        },
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert_problem(again, 409, "ALREADY_ON_WAITLIST")

    start = now() + dt.timedelta(days=1)
    r = await book(
        client, tenant, booked["id"], practitioner["id"], start, start + dt.timedelta(minutes=30)
    )
    assert r.status_code == 201, r.text
    await act(client, tenant, r.json()["id"], "confirm")
    await act(client, tenant, r.json()["id"], "cancel", {"reason": "travelling"})

    offered = await entry_when(client, tenant, first_entry["id"], "offered")
    offer = offered["offer"]
    assert dt.datetime.fromisoformat(offer["start"]) == start
    messages = await wait_until(
        client, tenant, first["id"], lambda n: n["template"] == "waitlist_offer", "offer"
    )
    assert offer["id"] in next(n for n in messages if n["template"] == "waitlist_offer")["body"]

    # The window runs out: the expiry (as any process's would, from the read model) passes it on.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=31)
    assert await SchedulingTimers(projector_pool, store, clock=lambda: later).run_due() >= 1
    await entry_when(client, tenant, first_entry["id"], "waiting")
    passed = await entry_when(client, tenant, second_entry["id"], "offered")
    assert passed["offer"]["start"] == offer["start"]

    late = await client.post(
        f"/v1/waitlist/offers/{offer['id']}/accept",
        headers=tenant.as_role("PATIENT", actor=first["id"]),
    )
    assert_problem(late, 409, "OFFER_EXPIRED")
    not_hers = await client.post(
        f"/v1/waitlist/offers/{passed['offer']['id']}/accept",
        headers=tenant.as_role("PATIENT", actor=first["id"]),
    )
    assert_problem(not_hers, 404, "NOT_FOUND")

    r = await client.post(
        f"/v1/waitlist/offers/{passed['offer']['id']}/accept",
        headers=tenant.as_role("PATIENT", actor=second["id"]),
    )
    assert r.status_code == 201, r.text
    appointment = r.json()
    assert (appointment["patient_id"], appointment["status"]) == (second["id"], "confirmed")
    assert dt.datetime.fromisoformat(appointment["start"]) == start
    done = await entry_when(client, tenant, second_entry["id"], "booked")
    assert done["offer"]["appointment_id"] == appointment["id"]

    own = await client.get("/v1/waitlist", headers=tenant.as_role("PATIENT", actor=second["id"]))
    assert [e["id"] for e in own.json()["items"]] == [second_entry["id"]]


async def test_a_patient_leaving_with_an_offer_passes_it_on(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await no_quiet_hours(client, tenant)
    practitioner = await create_practitioner(client, tenant)
    first, second, booked = [await create_patient(client, tenant) for _ in range(3)]
    first_entry = await join(client, tenant, first["id"], practitioner["id"])
    second_entry = await join(client, tenant, second["id"], practitioner["id"])
    start = now() + dt.timedelta(days=2)
    r = await book(
        client, tenant, booked["id"], practitioner["id"], start, start + dt.timedelta(minutes=20)
    )
    await act(client, tenant, r.json()["id"], "cancel", {"reason": "better"})
    await entry_when(client, tenant, first_entry["id"], "offered")
    r = await client.delete(
        f"/v1/waitlist/{first_entry['id']}", headers=tenant.as_role("PATIENT", actor=first["id"])
    )
    assert r.status_code == 200, r.text
    await entry_when(client, tenant, second_entry["id"], "offered")


async def test_an_accepted_offer_is_booked_confirmed_and_reminded_unless_its_slot_went(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """The patient took the concrete slot offered: booked confirmed, as by the front desk
    (AppointmentConfirmed), so the reminder follows it; a slot booked directly meanwhile is
    refused with a problem saying so."""
    await no_quiet_hours(client, tenant)
    practitioner = await create_practitioner(client, tenant)
    first, second, booked = [await create_patient(client, tenant) for _ in range(3)]
    first_entry = await join(client, tenant, first["id"], practitioner["id"])
    second_entry = await join(client, tenant, second["id"], practitioner["id"])
    slots = []
    for days in (2, 3):
        start = now() + dt.timedelta(days=days)
        r = await book(client, tenant, booked["id"], practitioner["id"], start, start + H)
        assert r.status_code == 201, r.text
        slots.append((r.json()["id"], start))
    for appointment_id, _ in slots:
        await act(client, tenant, appointment_id, "cancel", {"reason": "travelling"})
    first_offer = (await entry_when(client, tenant, first_entry["id"], "offered"))["offer"]
    second_offer = (await entry_when(client, tenant, second_entry["id"], "offered"))["offer"]

    r = await client.post(
        f"/v1/waitlist/offers/{first_offer['id']}/accept",
        headers=tenant.as_role("PATIENT", actor=first["id"]),
    )
    assert r.status_code == 201, r.text
    appointment = r.json()
    assert appointment["status"] == "confirmed"
    assert appointment["reason"] == "from the waitlist"
    r = await client.get(
        f"/v1/streams/appointment/{appointment['id']}/events", headers=tenant.as_role("AUDITOR")
    )
    types = [e["type"] for e in r.json()["events"]]
    assert types == ["AppointmentRequested", "AppointmentConfirmed"]
    reminders = await wait_until(
        client, tenant, first["id"], lambda n: n["appointment_id"] == appointment["id"], "reminder"
    )
    reminder = next(n for n in reminders if n["appointment_id"] == appointment["id"])
    assert reminder["template"] == "appointment_reminder"
    assert reminder["status"] != "withdrawn"
    r = await act_raw(client, tenant, appointment["id"], "confirm")
    assert_problem(r, 409, "INVALID_STATUS_TRANSITION")

    # The second slot is booked at the desk before its patient accepts.
    start = dt.datetime.fromisoformat(second_offer["start"])
    r = await book(client, tenant, booked["id"], practitioner["id"], start, start + H)
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/v1/waitlist/offers/{second_offer['id']}/accept",
        headers=tenant.as_role("PATIENT", actor=second["id"]),
    )
    problem = assert_problem(r, 409, "SLOT_TAKEN")
    assert problem["detail"].startswith("the offered slot is no longer free")
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_a_hold_that_runs_out_offers_its_slot_once_and_a_confirmed_one_none(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    projector_pool: asyncpg.Pool,
    store: EventStore,
) -> None:
    await no_quiet_hours(client, tenant)
    practitioner = await create_practitioner(client, tenant)
    first, second, holder = [await create_patient(client, tenant) for _ in range(3)]
    first_entry = await join(client, tenant, first["id"], practitioner["id"])
    second_entry = await join(client, tenant, second["id"], practitioner["id"])
    desk = tenant.as_role("RECEPTIONIST")
    start = (now() + dt.timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    holds = []
    for at in (start, start + dt.timedelta(hours=2)):
        body = {"practitioner_id": practitioner["id"], "start": iso(at), "end": iso(at + H)}
        r = await client.post("/v1/holds", json=body, headers=desk)
        assert r.status_code == 201, r.text
        holds.append(r.json())
    running_out, confirmed = holds
    r = await client.post(
        f"/v1/holds/{confirmed['id']}/confirm", json={"patient_id": holder["id"]}, headers=desk
    )
    assert r.status_code == 201, r.text

    # Past both holds' time: the one confirmed into a booking is not due; the other expires.
    expires = max(dt.datetime.fromisoformat(h["expires_at"]) for h in holds)
    timers = SchedulingTimers(projector_pool, store, clock=lambda: expires)
    await _until_expired(client, tenant, timers, running_out["id"])

    offered = await entry_when(client, tenant, first_entry["id"], "offered")
    assert dt.datetime.fromisoformat(offered["offer"]["start"]) == start
    messages = await wait_until(
        client, tenant, first["id"], lambda n: n["template"] == "waitlist_offer", "offer"
    )
    assert any(offered["offer"]["id"] in n["body"] for n in messages)

    # The expiry delivered to the reaction again offers nothing more.
    [expired] = await stored_events(
        projector_pool,
        "tenant_id = $1 AND stream_id = $2 AND event_type = 'SlotHoldExpired'",
        tenant.id,
        uuid.UUID(running_out["id"]),
    )
    await waitlist_offers.handle(expired, Commands(store, waitlist_offers.name, expired))
    offers = await stored_events(
        projector_pool,
        "tenant_id = $1 AND stream_id = $2 AND event_type = 'WaitlistSlotOffered'",
        tenant.id,
        waitlist_stream_id(uuid.UUID(practitioner["id"])),
    )
    assert [e.data["entry_id"] for e in offers] == [first_entry["id"]]
    r = await client.get("/v1/waitlist", headers=desk)
    waiting = next(e for e in r.json()["items"] if e["id"] == second_entry["id"])
    assert (waiting["status"], waiting["offer"]) == ("waiting", None)

    r = await client.post(
        f"/v1/waitlist/offers/{offered['offer']['id']}/accept",
        headers=tenant.as_role("PATIENT", actor=first["id"]),
    )
    assert r.status_code == 201, r.text
    assert dt.datetime.fromisoformat(r.json()["start"]) == start


async def _until_expired(
    client: httpx.AsyncClient, tenant: TenantFixture, timers: SchedulingTimers, hold_id: str
) -> None:
    """The timers run (as any process's would, from the read model) until the hold is expired
    (its placing may not be in the read model yet)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while True:
        await timers.run_due()
        r = await client.get(f"/v1/holds/{hold_id}", headers=tenant.as_role("RECEPTIONIST"))
        if r.status_code == 200 and r.json()["status"] == "expired":
            return
        assert loop.time() < deadline, r.text
        await asyncio.sleep(0.05)
