"""Days are the tenant's: the front desk's day, a practitioner's day and appointments by date
run from midnight to midnight in the tenant's time zone (here a New York clinic), and a query
parameter a route does not take (`tz=`) is refused, not ignored."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from dayflow_helpers import front_desk_day
from e2e_helpers import book, create_patient, create_practitioner, error_fields, set_policy
from support import TenantFixture

NEW_YORK = ZoneInfo("America/New_York")
# The first of December next year: always to come, EST (-05:00) and no daylight-saving change.
DAY = dt.date(dt.datetime.now(dt.UTC).year + 1, 12, 1)
NEXT = DAY + dt.timedelta(days=1)
EVENING = dt.datetime.combine(DAY, dt.time(19, 30), NEW_YORK)  # 00:30Z on NEXT
MORNING = dt.datetime.combine(NEXT, dt.time(8), NEW_YORK)  # 13:00Z on NEXT
LOCAL_MIDNIGHT = dt.datetime.combine(DAY, dt.time(), NEW_YORK).astimezone(dt.UTC)  # 05:00Z


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


def day_length(day: dt.date) -> dt.timedelta:
    """How long `day` lasts in New York, from the zone database."""
    midnight = dt.datetime.combine(day, dt.time(), NEW_YORK).astimezone(dt.UTC)
    following = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), NEW_YORK)
    return following.astimezone(dt.UTC) - midnight


def the_next_day_lasting(hours: int) -> dt.date:
    """The first day from tomorrow on that lasts `hours` hours in New York."""
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    for day in (tomorrow + dt.timedelta(days=n) for n in range(366)):
        if day_length(day) == dt.timedelta(hours=hours):
            return day
    raise AssertionError(f"no day of {hours} hours in New York in a year")


def test_the_days_are_what_the_tests_take_them_for() -> None:
    assert EVENING.utcoffset() == MORNING.utcoffset() == dt.timedelta(hours=-5)
    assert EVENING.astimezone(dt.UTC).date() == MORNING.astimezone(dt.UTC).date() == NEXT
    assert day_length(DAY) == day_length(NEXT) == dt.timedelta(hours=24)


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
    assert instant(day["free"][0]["start"]) == LOCAL_MIDNIGHT
    assert instant(day["free"][-1]["end"]) == LOCAL_MIDNIGHT + dt.timedelta(days=1)
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


@pytest.mark.parametrize("hours", [pytest.param(23, id="begins"), pytest.param(25, id="ends")])
async def test_the_day_daylight_saving_changes_has_its_hours(
    client: httpx.AsyncClient, tenant: TenantFixture, hours: int
) -> None:
    """The next such day in New York: a spring day of 23 hours, an autumn one of 25."""
    await set_policy(client, tenant, timezone="America/New_York")
    doctor = await create_practitioner(client, tenant)
    changes = the_next_day_lasting(hours)
    day = await doctors_day(client, tenant, doctor, changes)
    ((free,),) = [day["free"]]
    midnight = dt.datetime.combine(changes, dt.time(), NEW_YORK)
    assert instant(free["start"]) == midnight
    assert instant(free["end"]) - instant(free["start"]) == dt.timedelta(hours=hours)


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
