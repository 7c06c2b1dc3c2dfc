"""The waitlist end to end: a cancelled slot is offered to the first in line through the
notifications outbox, the offer expires (the durable expiry) and passes to the next patient,
who accepts and is booked."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import asyncpg
import httpx
from e2e_helpers import act, assert_problem, book, create_patient, create_practitioner, now
from notification_helpers import no_quiet_hours, wait_until
from support import TenantFixture

from backend.eventstore import EventStore
from backend.scheduling.timers import SchedulingTimers

WAIT_SECONDS = 15


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
    assert (appointment["patient_id"], appointment["status"]) == (second["id"], "requested")
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
