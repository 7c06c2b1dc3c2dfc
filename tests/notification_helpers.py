"""Notifications in end-to-end tests: tenant quiet hours, a confirmed appointment, waiting for
the reminder it queues."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
from e2e_helpers import act, book, create_practitioner, now
from support import TenantFixture

WAIT_SECONDS = 15


async def set_policy(client: httpx.AsyncClient, tenant: TenantFixture, **changes: str) -> None:
    r = await client.patch(
        "/v1/tenant/policy", json=changes, headers=tenant.as_role("CLINIC_ADMIN")
    )
    assert r.status_code == 200, r.text


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


async def wait_for(
    client: httpx.AsyncClient, tenant: TenantFixture, patient_id: str, status: str
) -> list[dict[str, Any]]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while True:
        items = await notifications_of(client, tenant, patient_id)
        if any(n["status"] == status for n in items):
            return items
        assert loop.time() < deadline, f"no {status} notification: {items}"
        await asyncio.sleep(0.1)
