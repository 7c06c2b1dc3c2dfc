"""Times typed for a booking are read against the clinic's time zone: an offset the zone keeps at
another time of the year (EDT's -04:00 typed for a December day in New York) is refused, a time
typed in UTC is taken with a warning naming its local time, any other offset is an instant."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from e2e_helpers import create_patient, create_practitioner, error_fields, set_policy
from support import TenantFixture

DAY = (dt.datetime.now(dt.UTC) + dt.timedelta(days=400)).date().replace(month=12, day=1)


async def _in_new_york(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    await set_policy(client, tenant, timezone="America/New_York")


async def _book(
    client: httpx.AsyncClient, tenant: TenantFixture, start: str, end: str
) -> httpx.Response:
    patient = await create_patient(client, tenant)
    doctor = await create_practitioner(client, tenant)
    body: dict[str, Any] = {
        "patient_id": patient["id"],
        "practitioner_id": doctor["id"],
        "start": start,
        "end": end,
    }
    return await client.post("/v1/appointments", json=body, headers=tenant.as_role("RECEPTIONIST"))


async def test_offsets_read_against_the_clinics_zone(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await _in_new_york(client, tenant)
    day = DAY.isoformat()
    summer_offset = await _book(client, tenant, f"{day}T09:00:00-04:00", f"{day}T09:30:00-04:00")
    assert error_fields(summer_offset) == {"start", "end"} or error_fields(summer_offset) == {
        "start"
    }
    assert "-05:00" in summer_offset.text

    local = await _book(client, tenant, f"{day}T09:00:00-05:00", f"{day}T09:30:00-05:00")
    assert local.status_code == 201, local.text
    assert local.json()["warnings"] == []
    assert local.json()["start"].startswith(f"{day}T14:00:00")

    utc = await _book(client, tenant, f"{day}T09:00:00Z", f"{day}T09:30:00Z")
    assert utc.status_code == 201, utc.text
    [warning] = utc.json()["warnings"]
    assert (
        warning["rule"] == "utc_time" and f"{day} 04:00 in America/New_York" in warning["message"]
    )

    elsewhere = await _book(client, tenant, f"{day}T15:00:00+01:00", f"{day}T15:30:00+01:00")
    assert elsewhere.status_code == 201, elsewhere.text  # a partner in Paris: an instant
    assert elsewhere.json()["warnings"] == []
