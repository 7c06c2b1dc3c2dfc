"""Reads across visits: the lab's worklist, the pharmacy's (with dispensing), and a patient's
timeline, now and as known before a correction."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
from e2e_helpers import assert_problem
from support import TenantFixture
from visit_helpers import OpenVisit, ok, open_walk_in, send

LAB = {"test_code": "K", "test_name": "Potassium"}
RX = {"medication": "amoxicillin", "dose": "500 mg", "route": "oral", "frequency": "tds"}
HIGH = {"value": "6.8", "unit": "mmol/L", "reference_range": "3.5-5.1", "abnormal": True}


async def _listed(
    client: httpx.AsyncClient, tenant: TenantFixture, path: str, role: str, after: int, **query: Any
) -> list[dict[str, Any]]:
    params = {**query, "min_position": after}
    r = await client.get(path, params=params, headers=tenant.as_role(role))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def _ordered(client: httpx.AsyncClient, visit: OpenVisit) -> dict[str, Any]:
    return await ok(client, visit, "/lab-orders", LAB, "DOCTOR")


async def test_the_lab_worklist_follows_each_order_through_its_steps(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    first, second = await open_walk_in(client, tenant), await open_walk_in(client, tenant)
    a, b = await _ordered(client, first), await _ordered(client, second)
    await _ordered(client, await open_walk_in(client, other_tenant))
    ordered = await _listed(
        client, tenant, "/v1/lab-orders", "LAB_TECHNICIAN", b["position"], status="ordered"
    )
    assert [(o["order_id"], o["visit_id"], o["patient_id"]) for o in ordered] == [
        (a["order_id"], first.id, first.patient_id),
        (b["order_id"], second.id, second.patient_id),
    ]
    done = await ok(client, first, f"/lab-orders/{a['order_id']}/collect", None, "NURSE")
    now = await _listed(
        client, tenant, "/v1/lab-orders", "LAB_TECHNICIAN", done["position"], status="ordered"
    )
    assert [o["order_id"] for o in now] == [b["order_id"]]
    collected = await _listed(
        client, tenant, "/v1/lab-orders", "LAB_TECHNICIAN", done["position"], status="collected"
    )
    assert [o["order_id"] for o in collected] == [a["order_id"]]
    r = await client.get("/v1/lab-orders", headers=tenant.as_role("RECEPTIONIST"))
    assert r.status_code == 200  # staff see the worklist; patients and finance do not
    assert_problem(
        await client.get("/v1/lab-orders", headers=tenant.as_role("FINANCE_BILLING")),
        403,
        "FORBIDDEN",
    )


async def test_the_pharmacy_dispenses_each_active_prescription_once(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    issued = await ok(client, visit, "/prescriptions", RX, "DOCTOR")
    rx = issued["prescription_id"]
    todo = await _listed(client, tenant, "/v1/prescriptions", "PHARMACIST", issued["position"])
    assert rx in [p["prescription_id"] for p in todo]
    dispense = f"/prescriptions/{rx}/dispense"
    assert_problem(await send(client, visit, dispense, None, "NURSE"), 403, "FORBIDDEN")
    done = await ok(client, visit, dispense, {"note": "7 days supply"}, "PHARMACIST")
    [line] = done["prescriptions"]
    assert (line["dispensed"]["by"], line["dispensed"]["note"]) == ("tester", "7 days supply")
    assert_problem(
        await send(client, visit, dispense, None, "PHARMACIST"), 409, "ALREADY_DISPENSED"
    )
    todo = await _listed(client, tenant, "/v1/prescriptions", "PHARMACIST", done["position"])
    assert rx not in [p["prescription_id"] for p in todo]
    given = await _listed(
        client, tenant, "/v1/prescriptions", "PHARMACIST", done["position"], status="dispensed"
    )
    assert rx in [p["prescription_id"] for p in given]

    stopped = await ok(client, visit, "/prescriptions", {**RX, "medication": "ibuprofen"}, "DOCTOR")
    other = stopped["prescription_id"]
    await ok(client, visit, f"/prescriptions/{other}/cancel", {"reason": "wrong patient"}, "DOCTOR")
    r = await send(client, visit, f"/prescriptions/{other}/dispense", None, "PHARMACIST")
    assert_problem(r, 409, "INVALID_STATUS_TRANSITION")


async def test_a_corrected_potassium_through_the_patient_timeline(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    await ok(client, visit, "/vitals", {"heart_rate": 88}, "NURSE")
    order = (await _ordered(client, visit))["order_id"]
    await ok(client, visit, f"/lab-orders/{order}/collect", None, "NURSE")
    await ok(client, visit, f"/lab-orders/{order}/result", HIGH, "LAB_TECHNICIAN")
    await asyncio.sleep(0.05)
    before_correction = dt.datetime.now(dt.UTC)
    await asyncio.sleep(0.05)
    corrected = {**HIGH, "value": "4.2", "abnormal": False, "reason": "haemolysed sample"}
    await ok(client, visit, f"/lab-orders/{order}/amendments", corrected, "LAB_TECHNICIAN")

    url = f"/v1/patients/{visit.patient_id}/timeline"
    doctor = tenant.as_role("DOCTOR")

    async def potassium(**query: str) -> dict[str, Any]:
        r = await client.get(url, params=query, headers=doctor)
        assert r.status_code == 200, r.text
        kinds = [e["kind"] for e in r.json()["items"]]
        assert kinds[:2] == ["visit", "vitals"], kinds
        [result] = [e for e in r.json()["items"] if e["kind"] == "lab_result"]
        return result

    then = await potassium(as_of=before_correction.isoformat())
    assert (then["result"]["value"], then.get("amendments", [])) == ("6.8", [])
    now = await potassium()
    assert now["result"]["value"] == "4.2"
    assert [a["replaced"]["value"] for a in now["amendments"]] == ["6.8"]
    assert_problem(await client.get(url, headers=tenant.as_role("RECEPTIONIST")), 403, "FORBIDDEN")
