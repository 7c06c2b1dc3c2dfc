"""The live queue around the clinic's midnight: a patient checked in inside the check-in window
is in the queue whichever side of midnight their appointment and the clock are. The clinic's
clock is set with its time zone (a whole-hour zone where it is 23:xx or 00:xx now), so these run
the same at any hour of the UTC day."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from e2e_helpers import (
    act,
    book,
    create_patient,
    create_practitioner,
    nearest_midnight,
    now,
    set_policy,
    zone_at_hour,
)
from support import TenantFixture


async def checked_in_at(
    client: httpx.AsyncClient, tenant: TenantFixture, start: dt.datetime
) -> dict[str, Any]:
    """A confirmed appointment at `start` checked in at the desk now (inside the window)."""
    patient = await create_patient(client, tenant)
    doctor = await create_practitioner(client, tenant)
    past = {"back_charting_reason": "booked on paper"} if start < now() else {}
    end = start + dt.timedelta(minutes=20)
    r = await book(client, tenant, patient["id"], doctor["id"], start, end, **past)
    assert r.status_code == 201, r.text
    await act(client, tenant, r.json()["id"], "confirm")
    return await act(client, tenant, r.json()["id"], "check-in")


async def waiting(
    client: httpx.AsyncClient, tenant: TenantFixture, appointment: dict[str, Any]
) -> list[str]:
    r = await client.get(
        "/v1/queue",
        params={
            "practitioner_id": appointment["practitioner_id"],
            "min_position": appointment["position"],
        },
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert r.status_code == 200, r.text
    return [w["appointment_id"] for q in r.json()["queues"] for w in q["waiting"]]


async def test_checked_in_before_midnight_for_an_appointment_after_it(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """At 23:xx, checked in for 00:30 (the window opens two hours before): waiting now."""
    zone = zone_at_hour(23)
    await set_policy(client, tenant, timezone=zone, checkin_opens_before_min=120)
    midnight = nearest_midnight(zone)
    appointment = await checked_in_at(client, tenant, midnight + dt.timedelta(minutes=30))
    assert appointment["status"] == "checked_in"
    assert await waiting(client, tenant, appointment) == [appointment["id"]]


async def test_still_waiting_after_midnight_for_an_appointment_before_it(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """At 00:xx, checked in for 23:45 (the window closes two hours after): still waiting."""
    zone = zone_at_hour(0)
    await set_policy(client, tenant, timezone=zone)
    midnight = nearest_midnight(zone)
    appointment = await checked_in_at(client, tenant, midnight - dt.timedelta(minutes=15))
    assert appointment["status"] == "checked_in"
    assert await waiting(client, tenant, appointment) == [appointment["id"]]
