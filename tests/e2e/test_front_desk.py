"""GET /v1/front-desk/day: the day's appointments with patient, practitioner, visit and the
payment of the visit's invoice; read-your-writes over every read model it joins; roles, bad
input and tenant isolation."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from billing_helpers import CONSULT
from dayflow_helpers import front_desk_day, reaction_passed, visit_invoice
from e2e_helpers import (
    act,
    assert_problem,
    book,
    create_patient,
    create_practitioner,
    error_fields,
    set_policy,
)
from support import TenantFixture
from visit_helpers import NOTE

DAY = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)  # every hour of it to come


def at(hour: int, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), dt.UTC)


async def booked(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    patient: dict[str, Any],
    doctor: dict[str, Any],
    start: dt.datetime,
) -> dict[str, Any]:
    r = await book(
        client, tenant, patient["id"], doctor["id"], start, start + dt.timedelta(hours=1)
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def visit_from(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    appointment: dict[str, Any],
) -> dict[str, Any]:
    await act(client, tenant, appointment["id"], "confirm")
    r = await client.post(
        "/v1/visits",
        json={
            "patient_id": appointment["patient_id"],
            "practitioner_id": appointment["practitioner_id"],
            "appointment_id": appointment["id"],
        },
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def call(
    client: httpx.AsyncClient,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
    method: str = "POST",
) -> dict[str, Any]:
    r = await client.request(method, path, json=body, headers=headers)
    assert r.status_code in (200, 201), r.text
    result: dict[str, Any] = r.json()
    return result


async def test_the_day_lists_its_appointments_in_order_with_who_and_what(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant, given_name="Ann", family_name="Lee")
    doctor = await create_practitioner(client, tenant, "Dr. Grey")
    late = await booked(client, tenant, patient, doctor, at(15))
    early = await booked(client, tenant, patient, doctor, at(9))
    await booked(client, tenant, patient, doctor, at(9, DAY + dt.timedelta(days=1)))
    r = await front_desk_day(client, tenant, DAY, early["position"])
    assert r.status_code == 200, r.text
    assert int(r.headers["X-Projection-Position"]) >= early["position"]
    body = r.json()
    assert body["date"] == DAY.isoformat()
    assert [x["appointment_id"] for x in body["items"]] == [early["id"], late["id"]]
    item = body["items"][0]
    assert item["status"] == "requested"
    assert item["start"].startswith(f"{DAY.isoformat()}T09:00:00")
    assert item["patient"] == {"id": patient["id"], "name": "Ann Lee"}
    assert item["practitioner"] == {"id": doctor["id"], "name": "Dr. Grey"}
    assert item["visit"] is None
    assert item["payment"] == {
        "status": "none",
        "invoice_id": None,
        "currency": None,
        "total": None,
        "balance": None,
    }


async def test_min_position_of_a_visit_and_an_invoice_command_is_honoured(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """The positions come from commands on visits and invoices: the day must reflect them on
    the first read, so it waits for those read models too, not only for appointments."""
    patient = await create_patient(client, tenant)
    doctor = await create_practitioner(client, tenant)
    appointment = await booked(client, tenant, patient, doctor, at(10))
    visit = await visit_from(client, tenant, appointment)
    r = await front_desk_day(client, tenant, DAY, visit["position"])
    (item,) = r.json()["items"]
    assert item["visit"] == {"id": visit["id"], "status": "open"}
    assert item["payment"]["status"] == "none"

    invoice = await call(
        client,
        "/v1/invoices",
        {"patient_id": patient["id"], "visit_id": visit["id"], "lines": [CONSULT]},
        tenant.as_role("RECEPTIONIST"),
    )
    r = await front_desk_day(client, tenant, DAY, invoice["position"])
    (item,) = r.json()["items"]
    assert item["payment"] == {
        "status": "draft",
        "invoice_id": invoice["id"],
        "currency": "USD",
        "total": "80.00",
        "balance": "0.00",  # a draft owes nothing until it is issued
    }


async def test_the_invoice_billing_drafted_for_the_visit_is_the_one_shown(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    doctor = await create_practitioner(client, tenant)
    appointment = await booked(client, tenant, patient, doctor, at(11))
    visit = await visit_from(client, tenant, appointment)
    vid = visit["id"]
    by_hand = await call(
        client,
        "/v1/invoices",
        {"patient_id": patient["id"], "visit_id": vid, "lines": [{**CONSULT, "code": "X"}]},
        tenant.as_role("RECEPTIONIST"),
    )
    doctor_headers = tenant.as_role("DOCTOR", actor=doctor["id"])
    await call(client, f"/v1/visits/{vid}/services", CONSULT, tenant.as_role("NURSE"))
    await call(client, f"/v1/visits/{vid}/note", NOTE, doctor_headers, "PUT")
    signed = await call(client, f"/v1/visits/{vid}/sign-off", None, doctor_headers)
    drafted = await visit_invoice(client, tenant, vid)
    r = await front_desk_day(client, tenant, DAY, signed["position"])
    (item,) = r.json()["items"]
    assert item["visit"]["status"] == "signed"
    assert item["payment"]["invoice_id"] == drafted["id"] != by_hand["id"]
    assert item["payment"]["total"] == "80.00"


async def test_a_visit_without_services_shows_no_invoice(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    doctor = await create_practitioner(client, tenant)
    appointment = await booked(client, tenant, patient, doctor, at(12))
    visit = await visit_from(client, tenant, appointment)
    doctor_headers = tenant.as_role("DOCTOR", actor=doctor["id"])
    await call(client, f"/v1/visits/{visit['id']}/note", NOTE, doctor_headers, "PUT")
    signed = await call(client, f"/v1/visits/{visit['id']}/sign-off", None, doctor_headers)
    await reaction_passed(client, tenant, "visit-invoice", signed["position"])
    # Anything the reaction recorded lies before a write made after it has passed: reading at
    # that write's position sees an invoice it may have drafted.
    after = await create_patient(client, tenant)
    r = await front_desk_day(client, tenant, DAY, after["position"])
    (item,) = r.json()["items"]
    assert item["visit"] == {"id": visit["id"], "status": "signed"}
    assert item["payment"]["status"] == "none"


async def test_a_position_the_store_never_reached_is_refused(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    r = await front_desk_day(client, tenant, DAY, patient["position"] + 1_000_000)
    assert_problem(r, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize("role", ["PATIENT", "AUDITOR", "FINANCE_BILLING", "LAB_TECHNICIAN"])
async def test_only_staff_read_the_day(
    client: httpx.AsyncClient, tenant: TenantFixture, role: str
) -> None:
    r = await client.get(
        "/v1/front-desk/day", params={"date": DAY.isoformat()}, headers=tenant.as_role(role)
    )
    assert_problem(r, 403, "FORBIDDEN")


async def test_the_day_needs_credentials(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/front-desk/day", params={"date": DAY.isoformat()})
    assert r.status_code == 401


@pytest.mark.parametrize("params", [{}, {"date": "2031-02-30"}, {"date": "tomorrow"}])
async def test_a_missing_or_bad_date_is_422_naming_it(
    client: httpx.AsyncClient, tenant: TenantFixture, params: dict[str, str]
) -> None:
    r = await client.get(
        "/v1/front-desk/day", params=params, headers=tenant.as_role("RECEPTIONIST")
    )
    assert error_fields(r) == {"date"}


async def test_another_tenants_appointments_are_not_listed(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    doctor = await create_practitioner(client, tenant)
    mine = await booked(client, tenant, patient, doctor, at(13))
    r = await front_desk_day(client, other_tenant, DAY, mine["position"])
    assert r.status_code == 200, r.text
    assert r.json()["items"] == []
    r = await front_desk_day(client, tenant, DAY, mine["position"])
    assert [x["appointment_id"] for x in r.json()["items"]] == [mine["id"]]


async def test_walk_ins_are_on_the_day_they_opened_in_the_tenants_time_zone(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """Visits opened without an appointment are on the desk, among the appointments by time,
    on the tenant's day; a visit opened from an appointment is on it once, as the appointment."""
    await set_policy(client, tenant, timezone="America/New_York")
    zone = ZoneInfo("America/New_York")
    patient = await create_patient(client, tenant, given_name="Walk", family_name="In")
    doctor = await create_practitioner(client, tenant, "Dr. House")
    # The latest 21:30 in New York a minute ago or earlier, and the appointment at 20:30 before
    # it: one New York day, at whatever hour the suite runs, that is the UTC day of neither
    # (both fall after midnight UTC).
    local = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).astimezone(zone)
    day = local.date() - dt.timedelta(days=int(local.time() < dt.time(21, 30)))
    opened_at = dt.datetime.combine(day, dt.time(21, 30), zone).astimezone(dt.UTC)
    assert opened_at.date() == day + dt.timedelta(days=1)
    walk_in = await call(
        client,
        "/v1/visits",
        {
            "patient_id": patient["id"],
            "practitioner_id": doctor["id"],
            "reason": "sprained ankle",
            "opened_at": opened_at.isoformat(),
        },
        tenant.as_role("RECEPTIONIST"),
    )
    start = opened_at - dt.timedelta(hours=1)
    earlier = await call(
        client,
        "/v1/appointments",
        {
            "patient_id": (await create_patient(client, tenant))["id"],
            "practitioner_id": doctor["id"],
            "start": start.isoformat(),
            "end": (start + dt.timedelta(minutes=30)).isoformat(),
            "back_charting_reason": "seen, booked late",
        },
        tenant.as_role("RECEPTIONIST"),
    )
    from_appointment = await visit_from(client, tenant, earlier)
    r = await front_desk_day(client, tenant, day, from_appointment["position"])
    items = r.json()["items"]
    assert [i["kind"] for i in items] == ["appointment", "walk_in"]
    assert items[0]["visit"]["id"] == from_appointment["id"]
    (item,) = [i for i in items if i["kind"] == "walk_in"]
    assert item["appointment_id"] is None and item["end"] is None and item["status"] is None
    assert dt.datetime.fromisoformat(item["start"]) == opened_at
    assert item["reason"] == "sprained ankle"
    assert item["patient"] == {"id": patient["id"], "name": "Walk In"}
    assert item["practitioner"] == {"id": doctor["id"], "name": "Dr. House"}
    assert item["visit"] == {"id": walk_in["id"], "status": "open"}
    assert item["payment"]["status"] == "none"
    r = await front_desk_day(client, tenant, day + dt.timedelta(days=1), walk_in["position"])
    assert r.json()["items"] == []


async def test_pages_run_through_appointments_and_walk_ins(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    doctor = await create_practitioner(client, tenant)
    opened = []
    for hours in (5, 4, 3):
        patient = await create_patient(client, tenant)
        at_ = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)).replace(microsecond=0)
        body = {"patient_id": patient["id"], "practitioner_id": doctor["id"]}
        visit = await call(
            client, "/v1/visits", {**body, "opened_at": at_.isoformat()}, tenant.as_role("NURSE")
        )
        opened.append((at_, visit))
    days = {at_.date() for at_, _ in opened}
    seen: list[str] = []
    for day in sorted(days):
        params: dict[str, Any] = {
            "date": day.isoformat(),
            "limit": 1,
            "min_position": opened[-1][1]["position"],
        }
        while True:
            r = await client.get(
                "/v1/front-desk/day", params=params, headers=tenant.as_role("RECEPTIONIST")
            )
            body = r.json()
            seen += [i["visit"]["id"] for i in body["items"]]
            if body["next_cursor"] is None:
                break
            params["cursor"] = body["next_cursor"]
    assert seen == [visit["id"] for _, visit in opened]
