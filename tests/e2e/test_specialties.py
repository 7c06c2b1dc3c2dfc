"""Specialty plugins through the API: the registry, a tenant's specialties, specialty data on
patients, visits and admissions, plugin events with their rules, and calculations."""

from __future__ import annotations

from typing import Any

import httpx
from admission_helpers import define_ward
from e2e_helpers import assert_problem, create_practitioner, error_fields
from specialty_helpers import ADMIN, enable, history, register
from support import TenantFixture, bearer, new_tenant


async def test_the_registry_lists_both_plugins_with_their_versions(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.get("/v1/specialties", headers=tenant.as_role("DOCTOR"))
    assert r.status_code == 200, r.text
    rows = {row["name"]: row for row in r.json()["items"]}
    assert rows["cardiac"]["status"] == "loaded"
    assert rows["cardiac"]["version"] == "1.2.0"
    assert rows["orthopedics"]["status"] == "loaded"
    assert rows["cardiac"]["enabled"] is False and rows["cardiac"]["problems"] == []


async def test_the_ui_config_names_header_fields_timeline_and_sidebar(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.get("/v1/specialties/cardiac/config", headers=tenant.as_role("NURSE"))
    assert r.status_code == 200, r.text
    config = r.json()
    assert "ejection_fraction" in config["header"]["primary_fields"]
    category = config["timeline"]["event_categories"][0]
    assert {"type": "cabg", "name": "Coronary artery bypass grafting"} in category["events"]
    assert [s["position"] for s in config["sidebar_sections"]] == [1, 2]
    assert config["calculators"][0]["id"] == "cha2ds2_vasc"
    r = await client.get("/v1/specialties/nope/config", headers=tenant.as_role("NURSE"))
    assert_problem(r, 404, "NOT_FOUND")


async def test_enabling_specialties_is_for_clinic_admins_and_known_plugins(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.put(
        "/v1/tenant/specialties",
        json={"specialties": ["cardiac"]},
        headers=tenant.as_role("DOCTOR"),
    )
    assert_problem(r, 403, "FORBIDDEN")
    assert error_fields(await enable(client, tenant, "cardiac", "dermatology")) == {"specialties.1"}
    assert error_fields(await enable(client, tenant, "Bad Name")) == {"specialties.0"}
    r = await enable(client, tenant, "cardiac")
    assert r.status_code == 200, r.text
    assert r.json()["specialties"] == ["cardiac"]
    tenant_events = await history(client, tenant, "tenant", str(tenant.id))
    assert tenant_events[-1]["type"] == "TenantSpecialtiesEnabled"
    assert tenant_events[-1]["plugins"] == {"cardiac": "1.2.0"}


async def test_one_tenants_specialties_are_not_another_tenants(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    assert (await enable(client, tenant, "cardiac")).status_code == 200
    r = await client.get("/v1/specialties", headers=other_tenant.as_role("DOCTOR"))
    assert not any(row["enabled"] for row in r.json()["items"])
    r = await register(client, other_tenant, specialty_data={"cardiac": {"nyha_class": "II"}})
    assert error_fields(r) == {"specialty_data.cardiac"}
    r = await client.get("/v1/tenant", headers=other_tenant.as_role(ADMIN))
    assert r.json()["specialties"] == []


async def test_patient_specialty_data_is_checked_against_the_manifest(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await enable(client, tenant, "cardiac")
    for data, field in (
        ({"cardiac": {"ejection_fraction": 95}}, "specialty_data.cardiac.ejection_fraction"),
        ({"cardiac": {"ejection_fraction": "low"}}, "specialty_data.cardiac.ejection_fraction"),
        ({"cardiac": {"nyha_class": "V"}}, "specialty_data.cardiac.nyha_class"),
        ({"cardiac": {"perfusion_time_min": 90}}, "specialty_data.cardiac.perfusion_time_min"),
        ({"cardiac": {"shoe_size": 42}}, "specialty_data.cardiac.shoe_size"),
        ({"orthopedics": {"laterality": "left"}}, "specialty_data.orthopedics"),
    ):
        assert error_fields(await register(client, tenant, specialty_data=data)) == {field}


async def test_a_low_ejection_fraction_is_recorded_with_a_warning_and_the_plugin_version(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await enable(client, tenant, "cardiac")
    r = await register(
        client, tenant, specialty_data={"cardiac": {"ejection_fraction": 25, "nyha_class": "III"}}
    )
    assert r.status_code == 201, r.text
    assert r.json()["warnings"] == [
        {
            "rule": "cardiac.low_ejection_fraction",
            "message": "Ejection fraction below 30% - high-risk patient",
        }
    ]
    events = await history(client, tenant, "patient", r.json()["id"])
    assert events[0]["plugins"] == {"cardiac": "1.2.0"}
    r = await register(client, tenant, specialty_data={"cardiac": {"ejection_fraction": 55}})
    assert r.status_code == 201 and r.json()["warnings"] == []


async def test_cha2ds2_vasc_is_calculated_when_its_inputs_change(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await enable(client, tenant, "cardiac")
    risks = {
        "congestive_heart_failure": True,
        "hypertension": True,
        "diabetes": False,
        "stroke_tia": True,
        "vascular_disease": False,
    }
    # 78-year-old woman: CHF 1 + hypertension 1 + age >= 75 2 + stroke 2 + female 1 = 7
    r = await register(
        client, tenant, birth_date="1948-01-15", sex="female", specialty_data={"cardiac": risks}
    )
    assert r.status_code == 201, r.text
    patient_id = r.json()["id"]
    calculations = [
        e
        for e in await history(client, tenant, "patient", patient_id)
        if e["type"] == "CalculationRecorded"
    ]
    assert [c["data"]["result"] for c in calculations] == ["7"]
    assert calculations[0]["data"]["calculator"] == "cha2ds2_vasc"
    assert calculations[0]["data"]["inputs"]["age_years"] >= 78
    headers = {**tenant.as_role("RECEPTIONIST"), "If-Match": '"2"'}
    r = await client.patch(
        f"/v1/patients/{patient_id}",
        json={"specialty_data": {"cardiac": {**risks, "diabetes": True}}},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    r = await client.patch(
        f"/v1/patients/{patient_id}",
        json={"specialty_data": {"cardiac": {**risks, "diabetes": True, "nyha_class": "II"}}},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert r.status_code == 200, r.text
    results = [
        e["data"]["result"]
        for e in await history(client, tenant, "patient", patient_id)
        if e["type"] == "CalculationRecorded"
    ]
    assert results == ["7", "8"], "an unrelated field does not recalculate"
    r = await client.get(
        f"/v1/patients/{patient_id}",
        params={"min_position": r.json()["position"]},
        headers=tenant.as_role("DOCTOR"),
    )
    latest = r.json()["calculations"]["cardiac.cha2ds2_vasc"]
    assert (latest["result"], latest["version"], latest["inputs"]["diabetes"]) == ("8", "1.0", True)


async def _hospital_admission(
    client: httpx.AsyncClient, specialties: tuple[str, ...], **admit: Any
) -> tuple[TenantFixture, str, httpx.Response]:
    tenant = await new_tenant(client, kind="hospital")
    await enable(client, tenant, *specialties)
    ward = await define_ward(client, tenant, "Cardiac surgery", ["C1", "C2"])
    r = await register(client, tenant, birth_date="1950-05-05", sex="male")
    patient_id = r.json()["id"]
    body = {"patient_id": patient_id, "ward_id": ward["id"], "bed": "C1", "reason": "CAD"}
    r = await client.post("/v1/admissions", json={**body, **admit}, headers=tenant.as_role("NURSE"))
    return tenant, patient_id, r


async def record(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    admission_id: str,
    body: dict[str, Any],
    role: str = "DOCTOR",
) -> httpx.Response:
    return await client.post(
        f"/v1/admissions/{admission_id}/specialty-events",
        json=body,
        headers=tenant.as_role(role),
    )


CATH = {
    "plugin": "cardiac",
    "type": "catheterization",
    "data": {"access_site": "radial", "outcome": "completed", "diseased_vessels": 3},
}
CABG = {"plugin": "cardiac", "type": "cabg", "data": {"grafts": 3, "technique": "on_pump"}}


async def test_cabg_requires_a_completed_catheterization(client: httpx.AsyncClient) -> None:
    tenant, _, r = await _hospital_admission(
        client, ("cardiac",), specialty_data={"cardiac": {"perfusion_time_min": 95}}
    )
    assert r.status_code == 201, r.text
    admission_id = r.json()["id"]
    assert r.json()["specialty_data"] == {"cardiac": {"perfusion_time_min": 95}}
    r = await record(client, tenant, admission_id, CABG)
    body = assert_problem(r, 422, "VALIDATION_RULE_FAILED")
    assert body["errors"] == [
        {
            "field": "rule.cabg_requires_cath",
            "message": "CABG requires a completed catheterization on this admission",
        }
    ]
    abandoned = {**CATH, "data": {**CATH["data"], "outcome": "abandoned"}}
    assert (await record(client, tenant, admission_id, abandoned)).status_code == 200
    assert_problem(await record(client, tenant, admission_id, CABG), 422, "VALIDATION_RULE_FAILED")
    assert (await record(client, tenant, admission_id, CATH)).status_code == 200
    r = await record(client, tenant, admission_id, CABG)
    assert r.status_code == 200, r.text
    assert r.json()["warnings"] == []
    events = r.json()["specialty_events"]
    assert [e["type"] for e in events] == ["catheterization", "catheterization", "cabg"]
    assert events[-1]["plugin_version"] == "1.2.0"
    stored = await history(client, tenant, "admission", admission_id)
    assert stored[-1]["type"] == "SpecialtyEventRecorded"
    assert stored[-1]["plugins"] == {"cardiac": "1.2.0"}
    r = await client.get(
        f"/v1/admissions/{admission_id}",
        params={"min_position": stored[-1]["position"]},
        headers=tenant.as_role("NURSE"),
    )
    assert r.status_code == 200, r.text
    assert len(r.json()["specialty_events"]) == 3


async def test_event_fields_are_checked_and_warnings_returned(client: httpx.AsyncClient) -> None:
    tenant, _, r = await _hospital_admission(client, ("cardiac",))
    admission_id = r.json()["id"]
    bad = [
        ({**CATH, "data": {"access_site": "radial"}}, "data.outcome"),
        ({**CATH, "data": {**CATH["data"], "diseased_vessels": 4}}, "data.diseased_vessels"),
        ({**CATH, "data": {**CATH["data"], "colour": "red"}}, "data.colour"),
        ({**CATH, "type": "heart_transplant"}, "type"),
        ({**CATH, "plugin": "orthopedics"}, "plugin"),
    ]
    for body, field in bad:
        assert error_fields(await record(client, tenant, admission_id, body)) == {field}
    low = {**CATH, "data": {**CATH["data"], "ejection_fraction": 22}}
    r = await record(client, tenant, admission_id, low)
    assert r.status_code == 200, r.text
    assert [w["rule"] for w in r.json()["warnings"]] == ["cardiac.low_ejection_fraction"]
    r = await record(client, tenant, admission_id, CATH, role="RECEPTIONIST")
    assert_problem(r, 403, "FORBIDDEN")


async def test_visit_specialty_data_and_events(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await enable(client, tenant, "orthopedics")
    patient = (await register(client, tenant)).json()
    doctor = await create_practitioner(client, tenant)
    body = {"patient_id": patient["id"], "practitioner_id": doctor["id"], "reason": "knee pain"}
    bad = {"orthopedics": {"oxford_knee_score": 49}}
    r = await client.post(
        "/v1/visits", json={**body, "specialty_data": bad}, headers=tenant.as_role(ADMIN)
    )
    assert error_fields(r) == {"specialty_data.orthopedics.oxford_knee_score"}
    data = {"orthopedics": {"weight_kg": 150, "height_cm": 180, "affected_joint": "knee"}}
    r = await client.post(
        "/v1/visits", json={**body, "specialty_data": data}, headers=tenant.as_role(ADMIN)
    )
    assert r.status_code == 201, r.text
    visit = r.json()
    assert [w["rule"] for w in visit["warnings"]] == ["orthopedics.severe_obesity"]
    assert visit["calculations"]["orthopedics.bmi"]["result"] == "46.3"
    assert visit["calculations"]["orthopedics.bmi_category"]["result"] == "obese"
    physio = {
        "plugin": "orthopedics",
        "type": "physiotherapy_session",
        "data": {"mobility": "walker"},
    }
    r = await client.post(
        f"/v1/visits/{visit['id']}/specialty-events", json=physio, headers=tenant.as_role("NURSE")
    )
    assert r.status_code == 200, r.text
    replacement = {
        "plugin": "orthopedics",
        "type": "joint_replacement",
        "data": {"joint": "knee", "laterality": "left"},
    }
    r = await client.post(
        f"/v1/visits/{visit['id']}/specialty-events",
        json=replacement,
        headers=tenant.as_role("DOCTOR"),
    )
    assert error_fields(r) == {"type"}, "joint replacement is an admission event"


async def test_a_repeat_arthroplasty_of_the_same_joint_is_refused(
    client: httpx.AsyncClient,
) -> None:
    tenant, _, r = await _hospital_admission(client, ("orthopedics",))
    admission_id = r.json()["id"]
    knee = {
        "plugin": "orthopedics",
        "type": "joint_replacement",
        "data": {"joint": "knee", "laterality": "left", "fixation": "cemented"},
    }
    assert (await record(client, tenant, admission_id, knee)).status_code == 200
    right = {**knee, "data": {**knee["data"], "laterality": "right"}}
    assert (await record(client, tenant, admission_id, right)).status_code == 200
    r = await record(client, tenant, admission_id, knee)
    assert assert_problem(r, 422, "VALIDATION_RULE_FAILED")["errors"][0]["field"] == (
        "rule.no_repeat_arthroplasty"
    )


async def test_the_readiness_check_reports_plugins(client: httpx.AsyncClient) -> None:
    r = await client.get("/health/ready")
    assert r.status_code == 200
    assert r.json()["plugins"]["loaded"] == {
        "cardiac": "1.2.0",
        "diabetes": "1.0.0",
        "orthopedics": "1.1.0",
    }
    r = await client.post("/v1/specialties/reload", headers=bearer(["CLINIC_ADMIN"]))
    assert_problem(r, 403, "FORBIDDEN")


async def checklists(
    client: httpx.AsyncClient, tenant: TenantFixture, position: int, **params: str
) -> list[dict[str, Any]]:
    r = await client.get(
        "/v1/checklists",
        params={**params, "min_position": position},
        headers=tenant.as_role("NURSE"),
    )
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def step(
    client: httpx.AsyncClient, tenant: TenantFixture, checklist_id: str, name: str, role: str
) -> httpx.Response:
    return await client.post(
        f"/v1/checklists/{checklist_id}/steps/{name}", headers=tenant.as_role(role)
    )


async def test_an_admission_starts_the_pre_op_checklist_and_a_cabg_the_discharge_one(
    client: httpx.AsyncClient,
) -> None:
    tenant, patient_id, r = await _hospital_admission(client, ("cardiac",), specialty="cardiac")
    assert r.status_code == 201, r.text
    admission_id = r.json()["id"]
    [pre_op] = await checklists(client, tenant, r.json()["position"], patient_id=patient_id)
    assert (pre_op["workflow"], pre_op["status"], pre_op["subject_id"]) == (
        "pre_op_checklist",
        "open",
        admission_id,
    )
    assert pre_op["plugin_version"] == "1.2.0"
    for name in ("consent_signed", "type_and_screen"):
        assert (await step(client, tenant, pre_op["id"], name, "NURSE")).status_code == 200
    r = await step(client, tenant, pre_op["id"], "consent_signed", "NURSE")
    assert_problem(r, 409, "STEP_DONE")
    r = await step(client, tenant, pre_op["id"], "cardiology_clearance", "NURSE")
    assert_problem(r, 403, "NOT_AN_APPROVER")
    assert_problem(await step(client, tenant, pre_op["id"], "nope", "NURSE"), 404, "NOT_FOUND")
    r = await step(client, tenant, pre_op["id"], "cardiology_clearance", "DOCTOR")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "complete", "the optional dental clearance is not needed"
    stored = await history(client, tenant, "checklist", pre_op["id"])
    assert [e["type"] for e in stored] == [
        "ChecklistStarted",
        "ChecklistStepCompleted",
        "ChecklistStepCompleted",
        "ChecklistStepCompleted",
        "ChecklistCompleted",
    ]
    assert stored[-2]["data"]["step"] == "cardiology_clearance"
    open_ones = await checklists(
        client, tenant, r.json()["position"], subject_id=admission_id, status="open"
    )
    assert open_ones == []

    assert (await record(client, tenant, admission_id, CATH)).status_code == 200
    r = await record(client, tenant, admission_id, CABG)
    assert r.status_code == 200, r.text
    [discharge] = await checklists(client, tenant, r.json()["position"], status="open")
    assert discharge["workflow"] == "discharge_readiness"
    assert discharge["steps"][0]["id"] == "pain_controlled"


async def test_no_checklist_without_the_specialty_enabled(client: httpx.AsyncClient) -> None:
    tenant, patient_id, r = await _hospital_admission(client, (), specialty="cardiac")
    assert r.status_code == 201, r.text
    assert await checklists(client, tenant, r.json()["position"], patient_id=patient_id) == []


async def test_checklists_and_specialty_events_stay_in_their_tenant(
    client: httpx.AsyncClient, other_tenant: TenantFixture
) -> None:
    tenant, patient_id, r = await _hospital_admission(client, ("cardiac",), specialty="cardiac")
    admission_id = r.json()["id"]
    position = r.json()["position"]
    [pre_op] = await checklists(client, tenant, position, patient_id=patient_id)
    r = await step(client, other_tenant, pre_op["id"], "consent_signed", "NURSE")
    assert_problem(r, 404, "NOT_FOUND")
    assert await checklists(client, other_tenant, position, patient_id=patient_id) == []
    r = await record(client, other_tenant, admission_id, CATH)
    assert_problem(r, 404, "NOT_FOUND")


async def test_no_specialty_event_after_discharge(client: httpx.AsyncClient) -> None:
    tenant, _, r = await _hospital_admission(client, ("cardiac",))
    admission_id = r.json()["id"]
    r = await client.post(
        f"/v1/admissions/{admission_id}/discharge",
        json={"disposition": "home"},
        headers=tenant.as_role("DOCTOR"),
    )
    assert r.status_code == 200, r.text
    assert_problem(await record(client, tenant, admission_id, CATH), 409, "ADMISSION_CLOSED")
