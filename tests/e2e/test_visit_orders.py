"""Visits: vitals (with late charting), prescriptions and the lab order timeline."""

import datetime as dt
import uuid

import httpx
from e2e_helpers import assert_problem, error_fields, iso, now, when
from support import TenantFixture
from visit_helpers import events_of, ok, open_walk_in, send, signed_visit

LAB = {"test_code": "CBC", "test_name": "Complete blood count"}
RX = {"medication": "Amoxicillin", "dose": "500 mg", "route": "oral", "frequency": "3x daily"}


async def test_vitals_now(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    visit = await open_walk_in(client, tenant)
    before = now()
    body = {"heart_rate": 72, "systolic": 120, "diastolic": 80, "temperature_c": 37.2}
    recorded = await ok(client, visit, "/vitals", body, "NURSE")
    [vitals] = recorded["vitals"]
    assert (vitals["heart_rate"], vitals["temperature_c"]) == (72, "37.2")
    assert before <= when(vitals["taken_at"]) <= now()
    [event] = await events_of(client, visit, "VitalsRecorded")
    assert when(event["occurred_at"]) == when(vitals["taken_at"])


async def test_late_charted_vitals_occurred_in_the_past(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant, opened_at=iso(now() - dt.timedelta(hours=6)))
    taken = (now() - dt.timedelta(hours=5)).replace(microsecond=0)
    recorded = await ok(client, visit, "/vitals", {"occurred_at": iso(taken), "spo2": 97}, "DOCTOR")
    assert when(recorded["vitals"][0]["taken_at"]) == taken
    [event] = await events_of(client, visit, "VitalsRecorded")
    assert when(event["occurred_at"]) == taken
    assert when(event["recorded_at"]) > taken + dt.timedelta(hours=4)
    got = await client.get(
        visit.url(), params={"min_position": recorded["position"]}, headers=tenant.as_role("NURSE")
    )
    assert got.json()["vitals"][0]["spo2"] == 97


async def test_vitals_time_is_bounded_by_the_clock_and_the_policy(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant, opened_at=iso(now() - dt.timedelta(hours=3)))
    for moment in (now() + dt.timedelta(minutes=5), now() - dt.timedelta(hours=73)):
        r = await send(client, visit, "/vitals", {"occurred_at": iso(moment), "spo2": 97}, "NURSE")
        assert error_fields(r) == {"occurred_at"}
    r = await client.patch(
        "/v1/tenant/policy",
        json={"late_charting_max_hours": 1},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.status_code == 200, r.text
    two_hours_ago = now() - dt.timedelta(hours=2)
    r = await send(
        client, visit, "/vitals", {"occurred_at": iso(two_hours_ago), "spo2": 97}, "NURSE"
    )
    assert error_fields(r) == {"occurred_at"}


async def test_vitals_ranges_name_the_field(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    bad = [
        ({}, "vitals"),
        ({"heart_rate": 400}, "heart_rate"),
        ({"temperature_c": 50}, "temperature_c"),
        ({"spo2": 120}, "spo2"),
        ({"systolic": 80, "diastolic": 90}, "systolic"),
        ({"weight_kg": -3}, "weight_kg"),
        ({"height_cm": "tall"}, "height_cm"),
        ({"respiratory_rate": 2}, "respiratory_rate"),
        ({"pulse": 70}, "pulse"),
    ]
    for body, field in bad:
        r = await send(client, visit, "/vitals", body, "NURSE")
        assert error_fields(r) == {field}, body


async def test_vitals_roles_and_sign_off(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    visit = await signed_visit(client, tenant)
    for role in ("RECEPTIONIST", "LAB_TECHNICIAN", "PATIENT"):
        r = await send(client, visit, "/vitals", {"heart_rate": 70}, role)
        assert_problem(r, 403, "FORBIDDEN")
    r = await send(client, visit, "/vitals", {"heart_rate": 70}, "NURSE")
    assert_problem(r, 409, "VISIT_SIGNED")


async def test_prescription(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    visit = await open_walk_in(client, tenant)
    doctor = tenant.as_role("DOCTOR", actor=visit.doctor_id)
    issued = await ok(client, visit, "/prescriptions", {**RX, "duration_days": 7}, doctor)
    [line] = issued["prescriptions"]
    assert line["prescription_id"] == issued["prescription_id"]
    assert (line["medication"], line["duration_days"], line["prescriber"]) == (
        "Amoxicillin",
        7,
        visit.doctor_id,
    )
    [event] = await events_of(client, visit, "PrescriptionIssued")
    assert event["data"]["prescription_id"] == issued["prescription_id"]
    for role in ("NURSE", "PHARMACIST", "RECEPTIONIST"):
        r = await send(client, visit, "/prescriptions", RX, role)
        assert_problem(r, 403, "FORBIDDEN")
    r = await send(client, visit, "/prescriptions", {**RX, "duration_days": 0}, doctor)
    assert error_fields(r) == {"duration_days"}
    r = await send(client, visit, "/prescriptions", {**RX, "dose": ""}, doctor)
    assert error_fields(r) == {"dose"}


async def test_lab_order_timeline(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    visit = await open_walk_in(client, tenant)
    ordered = await ok(client, visit, "/lab-orders", LAB, "DOCTOR")
    order = ordered["order_id"]
    assert ordered["lab_orders"][0]["status"] == "ordered"
    early = await send(
        client,
        visit,
        f"/lab-orders/{order}/result",
        {"value": "1", "abnormal": False},
        "LAB_TECHNICIAN",
    )
    assert_problem(early, 409, "INVALID_STATUS_TRANSITION")
    collected = await ok(client, visit, f"/lab-orders/{order}/collect", None, "NURSE")
    assert collected["lab_orders"][0]["status"] == "collected"
    again = await send(client, visit, f"/lab-orders/{order}/collect", None, "LAB_TECHNICIAN")
    assert_problem(again, 409, "INVALID_STATUS_TRANSITION")
    result = {"value": "9.1", "unit": "g/dL", "reference_range": "12-16", "abnormal": True}
    reported = await ok(client, visit, f"/lab-orders/{order}/result", result, "LAB_TECHNICIAN")
    [final] = reported["lab_orders"]
    assert final["status"] == "reported"
    assert final["result"] == {**result, "comment": None}
    assert final["ordered_at"] <= final["collected_at"] <= final["reported_at"]
    types = [e["type"] for e in (await events_of(client, visit, "LabResultReported"))]
    assert types == ["LabResultReported"]


async def test_lab_orders_continue_after_sign_off(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await signed_visit(client, tenant)
    order = (await ok(client, visit, "/lab-orders", LAB, "DOCTOR"))["order_id"]
    await ok(client, visit, f"/lab-orders/{order}/collect", None, "LAB_TECHNICIAN")
    body = {"value": "negative", "abnormal": False, "comment": "repeat in 6 weeks"}
    reported = await ok(client, visit, f"/lab-orders/{order}/result", body, "LAB_TECHNICIAN")
    assert reported["status"] == "signed"
    assert reported["lab_orders"][0]["result"]["comment"] == "repeat in 6 weeks"


async def test_lab_roles_and_unknown_orders(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    for role in ("NURSE", "LAB_TECHNICIAN", "RECEPTIONIST"):
        assert_problem(await send(client, visit, "/lab-orders", LAB, role), 403, "FORBIDDEN")
    order = (await ok(client, visit, "/lab-orders", LAB, "DOCTOR"))["order_id"]
    for role in ("DOCTOR", "RECEPTIONIST"):
        r = await send(client, visit, f"/lab-orders/{order}/collect", None, role)
        assert_problem(r, 403, "FORBIDDEN")
    await ok(client, visit, f"/lab-orders/{order}/collect", None, "NURSE")
    result = {"value": "1", "abnormal": False}
    for role in ("NURSE", "DOCTOR"):
        r = await send(client, visit, f"/lab-orders/{order}/result", result, role)
        assert_problem(r, 403, "FORBIDDEN")
    r = await send(client, visit, f"/lab-orders/{order}/result", {"value": "1"}, "LAB_TECHNICIAN")
    assert error_fields(r) == {"abnormal"}
    unknown = str(uuid.uuid4())
    r = await send(client, visit, f"/lab-orders/{unknown}/collect", None, "NURSE")
    assert_problem(r, 404, "NOT_FOUND")
    r = await send(client, visit, f"/lab-orders/{unknown}/result", result, "LAB_TECHNICIAN")
    assert_problem(r, 404, "NOT_FOUND")
    r = await send(client, visit, "/lab-orders", {**LAB, "test_code": ""}, "DOCTOR")
    assert error_fields(r) == {"test_code"}
