"""A discharge and the plugins' checklists: the readiness rule of a workflow refuses a planned
discharge or warns, as its manifest says; the discharge closes every open checklist."""

from __future__ import annotations

from typing import Any

import httpx
from admission_helpers import command, define_ward, read
from e2e_helpers import assert_problem
from specialty_helpers import enable, history, register
from support import TenantFixture, new_tenant

CATH = {
    "plugin": "cardiac",
    "type": "catheterization",
    "data": {"access_site": "radial", "outcome": "completed", "diseased_vessels": 3},
}
CABG = {"plugin": "cardiac", "type": "cabg", "data": {"grafts": 3, "technique": "on_pump"}}
KNEE = {
    "plugin": "orthopedics",
    "type": "joint_replacement",
    "data": {"joint": "knee", "laterality": "left", "fixation": "cemented"},
}


async def _admitted_after(
    client: httpx.AsyncClient, specialty: str, *events: dict[str, Any]
) -> tuple[TenantFixture, dict[str, Any], int]:
    """A hospital with `specialty` enabled, a patient admitted under it and `events` recorded
    on the admission; the admission and the position of the last write."""
    tenant = await new_tenant(client, kind="hospital")
    await enable(client, tenant, specialty)
    ward = await define_ward(client, tenant, "Surgery", ["S1"])
    patient = (await register(client, tenant, birth_date="1950-05-05", sex="male")).json()
    body = {"patient_id": patient["id"], "ward_id": ward["id"], "bed": "S1", "reason": "surgery"}
    r = await client.post(
        "/v1/admissions", json={**body, "specialty": specialty}, headers=tenant.as_role("NURSE")
    )
    assert r.status_code == 201, r.text
    admission, position = r.json(), r.json()["position"]
    for event in events:
        r = await client.post(
            f"/v1/admissions/{admission['id']}/specialty-events",
            json=event,
            headers=tenant.as_role("DOCTOR"),
        )
        assert r.status_code == 200, r.text
        position = r.json()["position"]
    return tenant, admission, position


async def _checklists(
    client: httpx.AsyncClient, tenant: TenantFixture, admission_id: str, position: int
) -> dict[str, dict[str, Any]]:
    body = await read(client, tenant, "/v1/checklists", position, subject_id=admission_id)
    return {c["workflow"]: c for c in body["items"]}


async def _tick(
    client: httpx.AsyncClient, tenant: TenantFixture, checklist_id: str, step: str
) -> httpx.Response:
    return await client.post(
        f"/v1/checklists/{checklist_id}/steps/{step}", headers=tenant.as_role("DOCTOR")
    )


async def test_an_open_cardiac_readiness_checklist_refuses_a_discharge_home(
    client: httpx.AsyncClient,
) -> None:
    tenant, admission, at = await _admitted_after(client, "cardiac", CATH, CABG)
    readiness = (await _checklists(client, tenant, admission["id"], at))["discharge_readiness"]
    home = {"disposition": "home"}
    refused = await command(client, tenant, admission["id"], "discharge", home)
    body = assert_problem(refused, 409, "DISCHARGE_NOT_READY")
    assert "Attending approves discharge" in body["detail"]
    for step in ("pain_controlled", "ambulating", "wound_check", "discharge_approval"):
        assert (await _tick(client, tenant, readiness["id"], step)).status_code == 200

    done = await command(client, tenant, admission["id"], "discharge", home)
    assert done.status_code == 200, done.text
    assert done.json()["warnings"] == []
    after = await _checklists(client, tenant, admission["id"], done.json()["position"])
    assert after["discharge_readiness"]["status"] == "complete"
    pre_op = after["pre_op_checklist"]
    assert pre_op["status"] == "closed"
    stored = await history(client, tenant, "checklist", pre_op["id"])
    assert stored[-1]["type"] == "ChecklistClosed"
    assert stored[-1]["occurred_at"] == done.json()["discharged_at"]
    assert_problem(
        await _tick(client, tenant, pre_op["id"], "consent_signed"), 409, "CHECKLIST_CLOSED"
    )


async def test_leaving_against_advice_is_not_held_up_only_warned_of(
    client: httpx.AsyncClient,
) -> None:
    tenant, admission, _ = await _admitted_after(client, "cardiac", CATH, CABG)
    r = await command(
        client, tenant, admission["id"], "discharge", {"disposition": "against_medical_advice"}
    )
    assert r.status_code == 200, r.text
    [warning] = r.json()["warnings"]
    assert warning["rule"] == "cardiac.discharge_readiness"
    after = await _checklists(client, tenant, admission["id"], r.json()["position"])
    assert {w: c["status"] for w, c in after.items()} == {
        "pre_op_checklist": "closed",
        "discharge_readiness": "closed",
    }
    assert warning["checklist_id"] == after["discharge_readiness"]["id"]


async def test_an_open_orthopaedic_readiness_checklist_warns_and_is_closed(
    client: httpx.AsyncClient,
) -> None:
    tenant, admission, _ = await _admitted_after(client, "orthopedics", KNEE)
    r = await command(client, tenant, admission["id"], "discharge", {"disposition": "home"})
    assert r.status_code == 200, r.text
    [warning] = r.json()["warnings"]
    assert warning["rule"] == "orthopedics.discharge_readiness"
    assert "Physiotherapy sign-off" in warning["message"]
    assert "Stairs assessment" not in warning["message"], "an optional step is not missing"
    after = await _checklists(client, tenant, admission["id"], r.json()["position"])
    assert {c["status"] for c in after.values()} == {"closed"}
