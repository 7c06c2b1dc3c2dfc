"""Corrections through the API: a lab result amended and a vitals reading entered in error,
after sign-off, kept with their history in the read model and the temporal reads."""

import asyncio
import datetime as dt
from typing import Any

import httpx
from e2e_helpers import assert_problem, error_fields, iso, now, when
from support import TenantFixture
from visit_helpers import OpenVisit, events_of, ok, open_walk_in, send, signed_visit

POTASSIUM = {"test_code": "K", "test_name": "Potassium"}


async def _reported_potassium(client: httpx.AsyncClient, visit: OpenVisit) -> str:
    order = (await ok(client, visit, "/lab-orders", POTASSIUM, "DOCTOR"))["order_id"]
    await ok(client, visit, f"/lab-orders/{order}/collect", None, "NURSE")
    unitless = {"value": "6.8", "abnormal": True}
    r = await send(client, visit, f"/lab-orders/{order}/result", unitless, "LAB_TECHNICIAN")
    assert error_fields(r) == {"unit"}
    first = {"value": "6.8", "unit": "mmol/L", "abnormal": True}
    await ok(client, visit, f"/lab-orders/{order}/result", first, "LAB_TECHNICIAN")
    return str(order)


async def _state(client: httpx.AsyncClient, visit: OpenVisit, **at: dt.datetime) -> Any:
    r = await client.get(
        f"/v1/streams/visit/{visit.id}",
        params={k: iso(v) for k, v in at.items()},
        headers=visit.tenant.as_role("AUDITOR"),
    )
    assert r.status_code == 200, r.text
    return r.json()["state"]


async def _between() -> dt.datetime:
    await asyncio.sleep(0.05)
    moment = now()
    await asyncio.sleep(0.05)
    return moment


async def test_a_potassium_is_amended_after_sign_off_and_keeps_its_history(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await signed_visit(client, tenant)
    order = await _reported_potassium(client, visit)
    again = {"value": "6.8", "unit": "mmol/L", "reference_range": "3.5-5.1", "abnormal": True}
    r = await send(client, visit, f"/lab-orders/{order}/result", again, "LAB_TECHNICIAN")
    assert_problem(r, 409, "INVALID_STATUS_TRANSITION")
    before_amendment = await _between()

    tech = tenant.as_role("LAB_TECHNICIAN", actor="tech-2")
    corrected = {
        "value": "4.1",
        "unit": "mmol/L",
        "reference_range": "3.5-5.1",
        "abnormal": False,
        "comment": "first sample haemolysed",
        "reason": "haemolysed specimen",
    }
    amended = await ok(client, visit, f"/lab-orders/{order}/amendments", corrected, tech)
    [line] = amended["lab_orders"]
    assert (line["status"], line["result"]["value"], amended["status"]) == (
        "amended",
        "4.1",
        "signed",
    )
    [amendment] = line["amendments"]
    assert (amendment["reason"], amendment["amended_by"]) == ("haemolysed specimen", "tech-2")
    assert amendment["replaced"]["value"] == "6.8" and amendment["replaced"]["unit"] == "mmol/L"

    got = await client.get(
        visit.url(), params={"min_position": amended["position"]}, headers=visit.doctor
    )
    assert got.json()["lab_orders"] == amended["lab_orders"]
    [reported] = await events_of(client, visit, "LabResultReported")
    [event] = await events_of(client, visit, "LabResultAmended")
    assert event["actor"] == "tech-2"
    assert when(event["occurred_at"]) == when(reported["occurred_at"])  # true since the report
    known_then = (await _state(client, visit, as_of=before_amendment))["lab_orders"][0]
    assert (known_then["status"], known_then["result"]["value"]) == ("reported", "6.8")
    as_known_now = (await _state(client, visit, valid_at=before_amendment))["lab_orders"][0]
    assert as_known_now["result"]["value"] == "4.1"


async def test_amendments_are_for_lab_technicians_with_a_reason_and_a_unit(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    order = (await ok(client, visit, "/lab-orders", POTASSIUM, "DOCTOR"))["order_id"]
    body = {"value": "4.1", "unit": "mmol/L", "abnormal": False, "reason": "typo"}
    early = await send(client, visit, f"/lab-orders/{order}/amendments", body, "LAB_TECHNICIAN")
    assert_problem(early, 409, "INVALID_STATUS_TRANSITION")
    order = await _reported_potassium(client, visit)
    for role in ("DOCTOR", "NURSE", "RECEPTIONIST"):
        r = await send(client, visit, f"/lab-orders/{order}/amendments", body, role)
        assert_problem(r, 403, "FORBIDDEN")
    for bad, field in (({**body, "unit": None}, "unit"), ({**body, "reason": ""}, "reason")):
        r = await send(client, visit, f"/lab-orders/{order}/amendments", bad, "LAB_TECHNICIAN")
        assert error_fields(r) == {field}


async def test_a_reading_entered_in_error_after_sign_off_stays_marked(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    nurse = tenant.as_role("NURSE", actor="nurse-ann")
    taken = now()
    charted = await ok(
        client, visit, "/vitals", {"heart_rate": 180, "occurred_at": iso(taken)}, nurse
    )
    reading = charted["reading_id"]
    await ok(
        client,
        visit,
        "/note",
        {"subjective": "palpitations", "objective": "", "assessment": "", "plan": ""},
        "DOCTOR",
        "PUT",
    )
    await ok(client, visit, "/sign-off", None, visit.doctor)
    before_marking = await _between()

    path = f"/vitals/{reading}/entered-in-error"
    why = {"reason": "charted for the wrong patient"}
    other_nurse = tenant.as_role("NURSE", actor="nurse-bob")
    assert_problem(await send(client, visit, path, why, other_nurse), 403, "NOT_VITALS_AUTHOR")
    assert_problem(await send(client, visit, path, why, "RECEPTIONIST"), 403, "FORBIDDEN")
    r = await send(client, visit, path, {"reason": " "}, nurse)
    assert error_fields(r) == {"reason"}
    marked = await ok(client, visit, path, why, nurse)
    [line] = marked["vitals"]
    assert (line["reading_id"], line["heart_rate"], line["status"]) == (
        reading,
        180,
        "entered_in_error",
    )
    assert line["entered_in_error"]["reason"] == "charted for the wrong patient"
    assert line["entered_in_error"]["marked_by"] == "nurse-ann"
    assert_problem(
        await send(client, visit, path, why, visit.doctor), 409, "ALREADY_ENTERED_IN_ERROR"
    )

    got = await client.get(visit.url(), params={"min_position": marked["position"]}, headers=nurse)
    assert got.json()["vitals"] == marked["vitals"]
    [event] = await events_of(client, visit, "VitalsEnteredInError")
    assert when(event["occurred_at"]) == taken  # as known now, it was never true
    then = (await _state(client, visit, as_of=before_marking))["vitals"][0]
    assert then["status"] == "final"
    assert (await _state(client, visit, valid_at=taken))["vitals"][0][
        "status"
    ] == "entered_in_error"


async def test_the_visits_doctor_may_mark_a_nurses_reading(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    reading = (await ok(client, visit, "/vitals", {"spo2": 71}, "NURSE"))["reading_id"]
    other_doctor = tenant.as_role("DOCTOR", actor="dr-other")
    path = f"/vitals/{reading}/entered-in-error"
    why = {"reason": "probe fell off"}
    assert_problem(await send(client, visit, path, why, other_doctor), 403, "NOT_VITALS_AUTHOR")
    marked = await ok(client, visit, path, why, visit.doctor)
    assert marked["vitals"][0]["entered_in_error"]["marked_by"] == visit.doctor_id
    missing = "/vitals/00000000-0000-4000-8000-000000000000/entered-in-error"
    assert_problem(await send(client, visit, missing, why, visit.doctor), 404, "NOT_FOUND")
