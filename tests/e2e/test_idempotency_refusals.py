"""A refused command stores nothing under its Idempotency-Key: the same request runs again once
its precondition holds (issue 22), and then its success is what the key replays."""

import datetime as dt

import httpx
from e2e_helpers import act, assert_problem, booked, iso, now, when
from idempotency_helpers import assert_executed, assert_replayed, keyed, stored_rows
from support import TenantFixture
from visit_helpers import ok, open_walk_in

LAB = {"test_code": "K", "test_name": "Potassium"}
RESULT = {"value": "6.8", "unit": "mmol/L", "reference_range": "3.5-5.1", "abnormal": True}


async def test_a_lab_result_refused_before_collection_is_recorded_after_it(
    client: httpx.AsyncClient, tenant: TenantFixture, owner_dsn: str
) -> None:
    visit = await open_walk_in(client, tenant)
    order = (await ok(client, visit, "/lab-orders", LAB, "DOCTOR"))["order_id"]
    url = visit.url(f"/lab-orders/{order}/result")
    headers = keyed(tenant.as_role("LAB_TECHNICIAN"))
    early = await client.post(url, json=RESULT, headers=headers)
    assert_problem(early, 409, "INVALID_STATUS_TRANSITION")
    key = headers["Idempotency-Key"]
    assert [r for r in await stored_rows(owner_dsn, tenant.id) if r["key"] == key] == []
    await ok(client, visit, f"/lab-orders/{order}/collect", None, "NURSE")
    reported = await client.post(url, json=RESULT, headers=headers)
    assert_executed(reported, 200)
    [lab] = reported.json()["lab_orders"]
    assert (lab["status"], lab["result"]["value"]) == ("reported", "6.8")
    assert_replayed(await client.post(url, json=RESULT, headers=headers), reported)
    read = await client.get(
        visit.url(),
        params={"min_position": reported.json()["position"]},
        headers=tenant.as_role("NURSE"),
    )
    assert read.json()["lab_orders"][0]["result"]["value"] == "6.8"


async def test_a_booking_refused_slot_taken_books_once_the_slot_is_free(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    first = await booked(client, tenant, now() + dt.timedelta(days=2))
    body = {
        "patient_id": first["patient_id"],
        "practitioner_id": first["practitioner_id"],
        "start": iso(when(first["start"])),
        "end": iso(when(first["end"])),
    }
    headers = keyed(tenant.as_role("RECEPTIONIST"))
    refused = await client.post("/v1/appointments", json=body, headers=headers)
    assert_problem(refused, 409, "SLOT_TAKEN")
    again = await client.post("/v1/appointments", json=body, headers=headers)
    assert_problem(again, 409, "SLOT_TAKEN")
    assert "idempotent-replayed" not in again.headers
    await act(client, tenant, first["id"], "cancel", {"reason": "patient called"})
    booked_now = await client.post("/v1/appointments", json=body, headers=headers)
    assert_executed(booked_now)
    assert booked_now.json()["id"] != first["id"]
    assert_replayed(await client.post("/v1/appointments", json=body, headers=headers), booked_now)
