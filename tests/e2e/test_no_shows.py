"""Automatic no-shows (issue 15, item 6): under the tenant's `no_show_after_min`, an
appointment nobody checked in for becomes a no-show by the scheduling timers running in the
app (AppointmentMarkedNoShow by "scheduler:no-shows"); one checked in, or a tenant without the
policy, is left alone."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
from e2e_helpers import act, booked, now
from support import TenantFixture


async def status_of(client: httpx.AsyncClient, tenant: TenantFixture, appointment_id: str) -> str:
    r = await client.get(
        f"/v1/appointments/{appointment_id}", headers=tenant.as_role("RECEPTIONIST")
    )
    assert r.status_code == 200, r.text
    status: str = r.json()["status"]
    return status


async def soon(client: httpx.AsyncClient, tenant: TenantFixture) -> dict[str, Any]:
    """A confirmed appointment starting in a second."""
    return await booked(client, tenant, now() + dt.timedelta(seconds=1), confirm=True)


async def test_an_appointment_nobody_checked_in_for_becomes_a_no_show_by_itself(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    r = await client.patch(
        "/v1/tenant/policy", json={"no_show_after_min": 0}, headers=tenant.as_role("CLINIC_ADMIN")
    )
    assert r.status_code == 200, r.text
    assert r.json()["policy"]["no_show_after_min"] == 0
    missed = await soon(client, tenant)
    came = await soon(client, tenant)
    await act(client, tenant, came["id"], "check-in")
    elsewhere = await soon(client, other_tenant)  # no policy there: staff mark no-shows

    for _ in range(100):
        if await status_of(client, tenant, missed["id"]) == "no_show":
            break
        await asyncio.sleep(0.1)
    assert await status_of(client, tenant, missed["id"]) == "no_show"
    events = await client.get(
        f"/v1/streams/appointment/{missed['id']}/events", headers=tenant.as_role("AUDITOR")
    )
    (marked,) = [e for e in events.json()["events"] if e["type"] == "AppointmentMarkedNoShow"]
    assert marked["actor"] == "scheduler:no-shows"
    assert await status_of(client, tenant, came["id"]) == "checked_in"
    assert await status_of(client, other_tenant, elsewhere["id"]) == "confirmed"


async def test_turning_the_policy_off_stops_automatic_no_shows(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    admin = tenant.as_role("CLINIC_ADMIN")
    r = await client.patch("/v1/tenant/policy", json={"no_show_after_min": 0}, headers=admin)
    assert r.status_code == 200, r.text
    r = await client.patch("/v1/tenant/policy", json={"no_show_after_min": None}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["policy"]["no_show_after_min"] is None
    awaited = await soon(client, tenant)
    await asyncio.sleep(2.5)  # the timers poll every second
    assert await status_of(client, tenant, awaited["id"]) == "confirmed"
