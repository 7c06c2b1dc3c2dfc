"""What a patient sees of their visits: never a draft, and only the results a clinician released
(backend/visits/release.py)."""

from __future__ import annotations

from typing import Any

import httpx
from e2e_helpers import assert_problem, create_practitioner
from support import TenantFixture
from visit_helpers import NOTE, OpenVisit, events_of, ok, open_walk_in, send

LAB = {"test_code": "K", "test_name": "Potassium"}
HIGH = {"value": "6.8", "unit": "mmol/L", "reference_range": "3.5-5.1", "abnormal": True}
CORRECTED = {**HIGH, "value": "4.2", "abnormal": False, "reason": "haemolysed sample"}


async def _as_patient(client: httpx.AsyncClient, visit: OpenVisit, position: int) -> httpx.Response:
    own = visit.tenant.as_role("PATIENT", actor=visit.patient_id)
    return await client.get(visit.url(), params={"min_position": position}, headers=own)


async def _seen(client: httpx.AsyncClient, visit: OpenVisit, position: int) -> dict[str, Any]:
    r = await _as_patient(client, visit, position)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_a_patient_never_sees_a_draft_and_sees_a_result_once_released(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    drafted = await ok(client, visit, "/note", NOTE, "DOCTOR", "PUT")
    order = (await ok(client, visit, "/lab-orders", LAB, "DOCTOR"))["order_id"]
    await ok(client, visit, f"/lab-orders/{order}/collect", None, "NURSE")
    reported = await ok(client, visit, f"/lab-orders/{order}/result", HIGH, "LAB_TECHNICIAN")
    for position in (drafted["position"], reported["position"]):  # the draft, the unsigned result
        assert_problem(await _as_patient(client, visit, position), 404, "NOT_FOUND")

    signed = await ok(client, visit, "/sign-off", None, visit.doctor)
    seen = await _seen(client, visit, signed["position"])
    assert seen["note"] == NOTE
    [line] = seen["lab_orders"]
    assert (line["status"], line["result"]) == ("awaiting_review", None)
    assert "amendments" not in line and "reported_by" not in line

    release = f"/lab-orders/{order}/release"
    for role in ("NURSE", "LAB_TECHNICIAN", "PATIENT"):
        assert_problem(await send(client, visit, release, None, role), 403, "FORBIDDEN")
    colleague = await create_practitioner(client, tenant, "Dr. Colleague")
    other = tenant.as_role("DOCTOR", actor=colleague["id"])
    assert_problem(await send(client, visit, release, None, other), 403, "NOT_VISIT_OWNER")
    released = await ok(client, visit, release, None, visit.doctor)
    again = await ok(client, visit, release, None, visit.doctor)
    assert again["version"] == released["version"]  # already released: nothing recorded
    [event] = await events_of(client, visit, "LabResultReleased")
    assert event["data"]["released_by"] == visit.doctor_id
    [line] = (await _seen(client, visit, released["position"]))["lab_orders"]
    assert line["result"] == {**HIGH, "comment": None}
    assert line["status"] == "reported" and line["released_at"]

    # A correction reaches the patient only once a clinician releases it in turn.
    tech = tenant.as_role("LAB_TECHNICIAN")
    amended = await ok(client, visit, f"/lab-orders/{order}/amendments", CORRECTED, tech)
    [line] = (await _seen(client, visit, amended["position"]))["lab_orders"]
    assert line["result"]["value"] == "6.8"
    rereleased = await ok(client, visit, release, None, visit.doctor)
    [line] = (await _seen(client, visit, rereleased["position"]))["lab_orders"]
    assert line["result"]["value"] == "4.2"


async def test_a_result_without_one_cannot_be_released(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    order = (await ok(client, visit, "/lab-orders", LAB, "DOCTOR"))["order_id"]
    r = await send(client, visit, f"/lab-orders/{order}/release", None, visit.doctor)
    assert_problem(r, 409, "INVALID_STATUS_TRANSITION")
