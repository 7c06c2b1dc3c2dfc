"""Hold then confirm (issue 15, item 2): a hold takes the slot in the practitioner's day
schedule streams like a booking, so of 50 concurrent holds exactly one wins and a booking of
held time is refused; confirming books; an expired hold is released by the scheduling timers'
durable expiry (found again by a timers instance started after the hold was placed)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import asyncpg
import httpx
from e2e_helpers import assert_problem, book, create_patient, create_practitioner, iso, now
from support import TenantFixture

from backend.eventstore import EventStore
from backend.scheduling.timers import SchedulingTimers

H = dt.timedelta(hours=1)


def next_hour() -> dt.datetime:
    return (now() + dt.timedelta(days=2)).replace(minute=0, second=0, microsecond=0)


async def hold(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    doctor: str,
    start: dt.datetime,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    body = {"practitioner_id": doctor, "start": iso(start), "end": iso(start + H), **extra}
    return await client.post(
        "/v1/holds", json=body, headers=headers or tenant.as_role("RECEPTIONIST")
    )


async def read_hold(
    client: httpx.AsyncClient, tenant: TenantFixture, hold_id: str, status: str
) -> dict[str, Any]:
    """The hold once its read model shows `status` (the timers' events are applied later)."""
    for _ in range(100):
        r = await client.get(f"/v1/holds/{hold_id}", headers=tenant.as_role("RECEPTIONIST"))
        if r.status_code == 200 and r.json()["status"] == status:
            body: dict[str, Any] = r.json()
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"hold {hold_id} never became {status}: {r.text}")


async def test_a_patient_holds_a_slot_then_confirms_it_into_an_appointment(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    doctor = (await create_practitioner(client, tenant))["id"]
    patient = (await create_patient(client, tenant))["id"]
    other = (await create_patient(client, tenant))["id"]
    start = next_hour()
    me = tenant.as_role("PATIENT", actor=patient)
    r = await hold(client, tenant, doctor, start, me)
    assert r.status_code == 201, r.text
    held = r.json()
    assert held["patient_id"] == patient and held["status"] == "held"
    lasts = dt.datetime.fromisoformat(held["expires_at"]) - now()
    assert dt.timedelta(minutes=9) < lasts <= dt.timedelta(minutes=10)  # policy default

    assert_problem(await book(client, tenant, other, doctor, start, start + H), 409, "SLOT_HELD")
    assert_problem(await hold(client, tenant, doctor, start + H / 2), 409, "SLOT_HELD")
    someone_else = tenant.as_role("PATIENT", actor=other)
    r = await client.post(f"/v1/holds/{held['id']}/confirm", headers=someone_else)
    assert_problem(r, 404, "NOT_FOUND")

    r = await client.post(
        f"/v1/holds/{held['id']}/confirm", json={"reason": "check-up"}, headers=me
    )
    assert r.status_code == 201, r.text
    appointment = r.json()
    assert appointment["patient_id"] == patient and appointment["status"] == "requested"
    assert dt.datetime.fromisoformat(appointment["start"]) == start
    confirmed = await read_hold(client, tenant, held["id"], "confirmed")
    assert confirmed["appointment_id"] == appointment["id"]
    r = await client.post(f"/v1/holds/{held['id']}/confirm", headers=me)
    assert_problem(r, 409, "HOLD_NOT_HELD")
    assert_problem(await book(client, tenant, other, doctor, start, start + H), 409, "SLOT_TAKEN")


async def test_fifty_concurrent_holds_on_one_slot_admit_exactly_one(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    doctor = (await create_practitioner(client, tenant))["id"]
    start = next_hour()
    answers = await asyncio.gather(*(hold(client, tenant, doctor, start) for _ in range(50)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] + [409] * 49, codes
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {"SLOT_HELD"}


async def test_a_hold_needs_a_patient_by_confirmation_and_stays_in_working_hours(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    doctor = (await create_practitioner(client, tenant))["id"]
    patient = (await create_patient(client, tenant))["id"]
    start = next_hour()
    held = (await hold(client, tenant, doctor, start)).json()
    url = f"/v1/holds/{held['id']}/confirm"
    desk = tenant.as_role("RECEPTIONIST")
    r = await client.post(url, headers=desk)
    assert_problem(r, 422, "VALIDATION_ERROR")
    r = await client.post(url, json={"patient_id": patient}, headers=desk)
    assert r.status_code == 201, r.text
    assert_problem(await hold(client, tenant, doctor, now() - H), 409, "APPOINTMENT_IN_PAST")


async def test_an_expired_hold_is_released_by_the_timers_after_a_restart(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    projector_pool: asyncpg.Pool,
    store: EventStore,
) -> None:
    r = await client.patch(
        "/v1/tenant/policy", json={"hold_minutes": 1}, headers=tenant.as_role("CLINIC_ADMIN")
    )
    assert r.status_code == 200, r.text
    doctor = (await create_practitioner(client, tenant))["id"]
    patient = (await create_patient(client, tenant))["id"]
    start = next_hour()
    held = (await hold(client, tenant, doctor, start)).json()
    expires = dt.datetime.fromisoformat(held["expires_at"])
    await read_hold(client, tenant, held["id"], "held")

    before = SchedulingTimers(
        projector_pool, store, clock=lambda: expires - dt.timedelta(seconds=1)
    )
    await before.start()
    await asyncio.sleep(0.1)
    await before.stop()  # the process goes away before the hold runs out
    await read_hold(client, tenant, held["id"], "held")

    after = SchedulingTimers(projector_pool, store, clock=lambda: expires)
    assert await after.run_due() >= 1  # a new process finds the expiry in the read model
    expired = await read_hold(client, tenant, held["id"], "expired")
    assert expired["appointment_id"] is None
    events = await client.get(
        f"/v1/streams/slot_hold/{held['id']}/events", headers=tenant.as_role("AUDITOR")
    )
    assert [e["type"] for e in events.json()["events"]] == ["SlotHoldPlaced", "SlotHoldExpired"]
    r = await client.post(
        f"/v1/holds/{held['id']}/confirm",
        json={"patient_id": patient},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert_problem(r, 409, "HOLD_NOT_HELD")
    r = await book(client, tenant, patient, doctor, start, start + H)
    assert r.status_code == 201, r.text
