"""Days are the tenant's: the front desk's day, a practitioner's day and appointments by date
run from midnight to midnight in the tenant's time zone (here a New York clinic), and a query
parameter a route does not take (`tz=`) is refused, not ignored."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from dayflow_helpers import front_desk_day
from e2e_helpers import book, create_patient, create_practitioner, error_fields, set_policy
from support import TenantFixture

NEW_YORK = dt.timezone(dt.timedelta(hours=-5))  # EST: December
DAY = dt.date(2031, 12, 1)
NEXT = DAY + dt.timedelta(days=1)
EVENING = dt.datetime(2031, 12, 1, 19, 30, tzinfo=NEW_YORK)  # 2031-12-02T00:30Z
MORNING = dt.datetime(2031, 12, 2, 8, 0, tzinfo=NEW_YORK)  # 2031-12-02T13:00Z


async def booked_at(
    client: httpx.AsyncClient, tenant: TenantFixture, doctor: dict[str, Any], start: dt.datetime
) -> dict[str, Any]:
    patient = await create_patient(client, tenant)
    r = await book(
        client, tenant, patient["id"], doctor["id"], start, start + dt.timedelta(minutes=30)
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def desk(
    client: httpx.AsyncClient, tenant: TenantFixture, day: dt.date, position: int
) -> list[str]:
    r = await front_desk_day(client, tenant, day, position)
    assert r.status_code == 200, r.text
    return [item["appointment_id"] for item in r.json()["items"]]


async def listed(
    client: httpx.AsyncClient, tenant: TenantFixture, day: dt.date, position: int
) -> list[str]:
    params = {"date": day.isoformat(), "min_position": str(position)}
    r = await client.get("/v1/appointments", params=params, headers=tenant.as_role("NURSE"))
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


async def doctors_day(
    client: httpx.AsyncClient, tenant: TenantFixture, doctor: dict[str, Any], day: dt.date
) -> dict[str, Any]:
    r = await client.get(
        f"/v1/practitioners/{doctor['id']}/day",
        params={"date": day.isoformat(), "min_position": doctor["position"]},
        headers=tenant.as_role("DOCTOR"),
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


async def test_a_new_york_evening_is_on_its_own_day_not_the_next(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await set_policy(client, tenant, timezone="America/New_York")
    doctor = await create_practitioner(client, tenant)
    evening = await booked_at(client, tenant, doctor, EVENING)
    morning = await booked_at(client, tenant, doctor, MORNING)
    at = morning["position"]

    assert await desk(client, tenant, DAY, at) == [evening["id"]]
    assert await desk(client, tenant, NEXT, at) == [morning["id"]]
    assert await listed(client, tenant, DAY, at) == [evening["id"]]
    assert await listed(client, tenant, NEXT, at) == [morning["id"]]
    r = await front_desk_day(client, tenant, DAY, at)
    assert r.json()["time_zone"] == "America/New_York"

    day = await doctors_day(client, tenant, doctor, DAY)
    assert day["time_zone"] == "America/New_York"
    assert [b["appointment_id"] for b in day["busy"]] == [evening["id"]]
    local_midnight = dt.datetime(2031, 12, 1, 5, 0, tzinfo=dt.UTC)
    assert instant(day["free"][0]["start"]) == local_midnight
    assert instant(day["free"][-1]["end"]) == local_midnight + dt.timedelta(days=1)
    assert instant(day["free"][-1]["start"]) == EVENING + dt.timedelta(minutes=30)
    next_day = await doctors_day(client, tenant, doctor, NEXT)
    assert [b["appointment_id"] for b in next_day["busy"]] == [morning["id"]]


async def test_a_changed_time_zone_moves_every_day_with_it(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """Read models keep instants: the same appointment is on the day of the zone in force."""
    await set_policy(client, tenant, timezone="America/New_York")
    doctor = await create_practitioner(client, tenant)
    evening = await booked_at(client, tenant, doctor, EVENING)
    assert await desk(client, tenant, DAY, evening["position"]) == [evening["id"]]
    await set_policy(client, tenant, timezone="Europe/Berlin")  # 01:30 on the next day there
    assert await desk(client, tenant, DAY, evening["position"]) == []
    assert await desk(client, tenant, NEXT, evening["position"]) == [evening["id"]]


async def test_the_day_daylight_saving_begins_has_23_hours(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await set_policy(client, tenant, timezone="America/New_York")
    doctor = await create_practitioner(client, tenant)
    day = await doctors_day(client, tenant, doctor, dt.date(2031, 3, 9))
    ((free,),) = [day["free"]]
    assert instant(free["start"]) == dt.datetime(2031, 3, 9, 5, 0, tzinfo=dt.UTC)
    assert instant(free["end"]) - instant(free["start"]) == dt.timedelta(hours=23)


@pytest.mark.parametrize(
    "path", ["/v1/front-desk/day", "/v1/appointments", "/v1/practitioners/{id}/day"]
)
async def test_a_time_zone_parameter_is_refused_not_ignored(
    client: httpx.AsyncClient, tenant: TenantFixture, path: str
) -> None:
    doctor = await create_practitioner(client, tenant)
    r = await client.get(
        path.format(id=doctor["id"]),
        params={"date": DAY.isoformat(), "tz": "America/New_York"},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert error_fields(r) == {"tz"}
