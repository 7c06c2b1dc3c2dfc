"""Working hours (issue 15, item 1): a practitioner's weekly template in the tenant's time zone,
time off and slot length give the free slots; a booking outside them is refused unless staff
give a reason (recorded). Around New York's spring change 09:00 stays 09:00: the days are those
of the next one (the second Sunday of March) at least 10 days ahead, so every slot is to come."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from e2e_helpers import (
    assert_problem,
    book,
    create_patient,
    create_practitioner,
    error_fields,
    set_policy,
)
from support import TenantFixture

H = dt.timedelta(hours=1)
WEEKLY = [
    {"weekday": "fri", "start": "09:00", "end": "12:00"},
    {"weekday": "fri", "start": "13:00", "end": "15:00"},
    {"weekday": "sun", "start": "00:00", "end": "04:00"},
    {"weekday": "mon", "start": "09:00", "end": "11:00"},
]


NEW_YORK = ZoneInfo("America/New_York")
EST, EDT = dt.timedelta(hours=-5), dt.timedelta(hours=-4)


def spring_forward_sunday(today: dt.date) -> dt.date:
    """New York's first spring change (the second Sunday of March) at least 10 days after
    `today`, checked against the zone database: EST on the Saturday, EDT on the Monday."""
    year = today.year
    while True:
        march = dt.date(year, 3, 1)
        sunday = march + dt.timedelta(days=(6 - march.weekday()) % 7 + 7)
        if (sunday - today).days >= 10:
            break
        year += 1
    noon = dt.time(12)
    saturday = dt.datetime.combine(sunday - dt.timedelta(days=1), noon, NEW_YORK).utcoffset()
    monday = dt.datetime.combine(sunday + dt.timedelta(days=1), noon, NEW_YORK).utcoffset()
    assert (saturday, monday) == (EST, EDT), f"New York does not spring forward on {sunday}"
    return sunday


SUNDAY = spring_forward_sunday(dt.datetime.now(dt.UTC).date())
FRIDAY, MONDAY = SUNDAY - dt.timedelta(days=2), SUNDAY + dt.timedelta(days=1)


def utc(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), dt.UTC)


async def new_york_practitioner(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    """A practitioner with WEEKLY hours in New York, known to the read models."""
    await set_policy(client, tenant, timezone="America/New_York")
    doctor: dict[str, Any] = await create_practitioner(client, tenant)
    r = await client.put(
        f"/v1/practitioners/{doctor['id']}/working-hours",
        json={"weekly": WEEKLY, "slot_minutes": 60},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert r.status_code == 200, r.text
    await client.get(
        "/v1/practitioners",
        params={"min_position": r.json()["position"]},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    return str(doctor["id"])


async def slots(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    doctor: str,
    first: dt.date,
    last: dt.date,
    **p: Any,
) -> list[dt.datetime]:
    r = await client.get(
        "/v1/slots",
        params={"practitioner_id": doctor, "from": first.isoformat(), "to": last.isoformat(), **p},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["time_zone"] == "America/New_York"
    return [dt.datetime.fromisoformat(s["start"]) for s in r.json()["slots"]]


async def test_free_slots_follow_the_template_across_the_spring_change(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    doctor = await new_york_practitioner(client, tenant)
    found = await slots(client, tenant, doctor, FRIDAY, MONDAY)
    friday = [utc(FRIDAY, h) for h in (14, 15, 16, 18, 19)]  # 09-12, 13-15 EST
    sunday = [utc(SUNDAY, h) for h in (5, 6, 7)]  # 00-04 local is 3 hours that night
    monday = [utc(MONDAY, h) for h in (13, 14)]  # 09-11 EDT
    assert found == friday + sunday + monday
    hours = await client.get(
        f"/v1/practitioners/{doctor}/working-hours", headers=tenant.as_role("DOCTOR")
    )
    assert hours.status_code == 200, hours.text
    assert hours.json()["weekly"][0] == {"weekday": "mon", "start": "09:00", "end": "11:00"}


async def test_a_booking_outside_working_hours_needs_staff_reason(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    doctor = await new_york_practitioner(client, tenant)
    patient = (await create_patient(client, tenant))["id"]
    early = utc(MONDAY, 12)  # 08:00 EDT, before the Monday hours
    r = await book(client, tenant, patient, doctor, early, early + H)
    assert_problem(r, 409, "OUTSIDE_WORKING_HOURS")
    r = await book(client, tenant, patient, doctor, utc(MONDAY, 14), utc(MONDAY, 16))
    assert_problem(r, 409, "OUTSIDE_WORKING_HOURS")  # runs past 11:00
    reason = "only time before her flight"
    r = await book(client, tenant, patient, doctor, early, early + H, hours_override_reason=reason)
    assert r.status_code == 201, r.text
    events = await client.get(
        f"/v1/streams/appointment/{r.json()['id']}/events", headers=tenant.as_role("AUDITOR")
    )
    recorded = [e for e in events.json()["events"] if e["type"] == "BookedOutsideWorkingHours"]
    assert [e["data"]["reason"] for e in recorded] == [reason]

    inside = utc(MONDAY, 13)  # 09:00 EDT
    r = await book(client, tenant, patient, doctor, inside, inside + H)
    assert r.status_code == 201, r.text
    found = await slots(client, tenant, doctor, MONDAY, MONDAY, min_position=r.json()["position"])
    assert found == [utc(MONDAY, 14)]  # the booked 09:00 is not free


async def test_time_off_takes_days_or_hours_away_and_can_be_removed(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    doctor = await new_york_practitioner(client, tenant)
    desk = tenant.as_role("RECEPTIONIST")
    r = await client.post(
        f"/v1/practitioners/{doctor}/time-off",
        json={
            "first_day": FRIDAY.isoformat(),
            "last_day": SUNDAY.isoformat(),
            "reason": "conference",
        },
        headers=desk,
    )
    assert r.status_code == 201, r.text
    leave = r.json()["time_off"][0]["time_off_id"]
    r = await client.post(
        f"/v1/practitioners/{doctor}/time-off",
        json={
            "first_day": MONDAY.isoformat(),
            "last_day": MONDAY.isoformat(),
            "start": "10:00",
            "end": "24:00",
        },
        headers=desk,
    )
    assert r.status_code == 201, r.text
    assert await slots(client, tenant, doctor, FRIDAY, MONDAY) == [utc(MONDAY, 13)]
    patient = (await create_patient(client, tenant))["id"]
    friday = utc(FRIDAY, 14)
    r = await book(client, tenant, patient, doctor, friday, friday + H)
    assert_problem(r, 409, "OUTSIDE_WORKING_HOURS")
    r = await client.delete(f"/v1/practitioners/{doctor}/time-off/{leave}", headers=desk)
    assert r.status_code == 200, r.text
    r = await book(client, tenant, patient, doctor, friday, friday + H)
    assert r.status_code == 201, r.text


async def test_slot_ranges_are_bounded_and_hours_checked(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    doctor = await new_york_practitioner(client, tenant)
    march, april = dt.date(SUNDAY.year, 3, 1), dt.date(SUNDAY.year, 4, 1)  # 32 days, 31 allowed
    r = await client.get(
        "/v1/slots",
        params={"practitioner_id": doctor, "from": march.isoformat(), "to": april.isoformat()},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert error_fields(r) == {"to"}
    bad = [
        {"weekday": "mon", "start": "09:00", "end": "12:00"},
        {"weekday": "mon", "start": "11:00", "end": "13:00"},
    ]
    r = await client.put(
        f"/v1/practitioners/{doctor}/working-hours",
        json={"weekly": bad, "slot_minutes": 30},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert error_fields(r) == {"weekly[1]"}
    r = await client.put(
        f"/v1/practitioners/{doctor}/working-hours",
        json={"weekly": WEEKLY, "slot_minutes": 30},
        headers=tenant.as_role("DOCTOR"),
    )
    assert_problem(r, 403, "FORBIDDEN")


async def test_a_practitioner_without_hours_is_bookable_any_time_and_lists_no_slots(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    doctor = (await create_practitioner(client, tenant))["id"]
    patient = (await create_patient(client, tenant))["id"]
    night = utc(SUNDAY, 7)
    r = await book(client, tenant, patient, doctor, night, night + H)
    assert r.status_code == 201, r.text
    r = await client.get(
        "/v1/slots",
        params={
            "practitioner_id": doctor,
            "from": FRIDAY.isoformat(),
            "to": MONDAY.isoformat(),
            "min_position": r.json()["position"],
        },
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert_problem(r, 409, "NO_WORKING_HOURS")
