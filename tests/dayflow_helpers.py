"""Helpers for the tests of the day across contexts: waiting for a reaction to pass a position,
for the invoice a signed-off visit gets, and reading the front desk's day."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import httpx
from support import TenantFixture, bearer

from backend.billing.visit import visit_invoice_id

WAIT_SECONDS = 15


async def reaction_passed(
    client: httpx.AsyncClient, tenant: TenantFixture, name: str, position: int
) -> None:
    """Wait until reaction `name` has handled every event up to `position` (so whatever it
    would record for them is recorded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while True:
        r = await client.get("/v1/reactions", headers=bearer(["PLATFORM_ADMIN"]))
        assert r.status_code == 200, r.text
        status = next(x for x in r.json()["reactions"] if x["name"] == name)
        assert status["state"] == "running", status
        if status["position"] >= position:
            return
        assert loop.time() < deadline, f"{name} stuck at {status}"
        await asyncio.sleep(0.05)


async def visit_invoice(
    client: httpx.AsyncClient, tenant: TenantFixture, visit_id: str
) -> dict[str, Any]:
    """The invoice the visit-invoice reaction drafted, once the invoices read model has it."""
    invoice_id = visit_invoice_id(uuid.UUID(visit_id))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while True:
        r = await client.get(f"/v1/invoices/{invoice_id}", headers=tenant.as_role("RECEPTIONIST"))
        if r.status_code == 200:
            body: dict[str, Any] = r.json()
            return body
        assert r.status_code == 404, r.text
        assert loop.time() < deadline, f"no invoice for visit {visit_id}"
        await asyncio.sleep(0.05)


async def front_desk_day(
    client: httpx.AsyncClient, tenant: TenantFixture, day: dt.date, position: int | None = None
) -> httpx.Response:
    params: dict[str, Any] = {"date": day.isoformat()}
    if position is not None:
        params["min_position"] = position
    return await client.get(
        "/v1/front-desk/day", params=params, headers=tenant.as_role("RECEPTIONIST")
    )


def utc_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(dt.UTC).date()
