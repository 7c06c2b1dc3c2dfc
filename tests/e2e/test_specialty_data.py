"""Specialty data merges per plugin and field wherever it is written (a patient's change, a
visit's opening, an admission): a field given replaces that field, null removes it, and
nothing of another plugin is ever touched."""

from __future__ import annotations

from typing import Any

import httpx
from admission_helpers import admit_raw, define_ward, read
from e2e_helpers import create_practitioner, error_fields
from specialty_helpers import enable, register
from support import TenantFixture, new_tenant

CARDIAC = {"nyha_class": "II", "ejection_fraction": 45}
ORTHO = {"weight_kg": 80, "height_cm": 180, "affected_joint": "knee"}


async def change(
    client: httpx.AsyncClient, tenant: TenantFixture, patient_id: str, data: Any
) -> httpx.Response:
    return await client.patch(
        f"/v1/patients/{patient_id}",
        json={"specialty_data": data},
        headers=tenant.as_role("RECEPTIONIST"),
    )


async def test_a_patients_change_keeps_every_field_and_plugin_it_does_not_name(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await enable(client, tenant, "cardiac", "orthopedics")
    r = await register(client, tenant, specialty_data={"cardiac": CARDIAC, "orthopedics": ORTHO})
    assert r.status_code == 201, r.text
    patient_id = r.json()["id"]

    r = await change(client, tenant, patient_id, {"orthopedics": {"weight_kg": 85}})
    assert r.status_code == 200, r.text
    assert r.json()["specialty_data"] == {
        "cardiac": CARDIAC,
        "orthopedics": {**ORTHO, "weight_kg": 85},
    }
    bmi = r.json()["calculations"]["orthopedics.bmi"]
    assert (bmi["inputs"], bmi["result"]) == ({"height_cm": 180, "weight_kg": 85}, "26.2")

    r = await change(client, tenant, patient_id, {"orthopedics": {"affected_joint": None}})
    assert r.status_code == 200, r.text
    assert r.json()["specialty_data"]["orthopedics"] == {"weight_kg": 85, "height_cm": 180}

    r = await change(client, tenant, patient_id, {"cardiac": None})
    assert r.status_code == 200, r.text
    assert r.json()["specialty_data"] == {"orthopedics": {"weight_kg": 85, "height_cm": 180}}

    assert error_fields(await change(client, tenant, patient_id, None)) == {"specialty_data"}
    patient = await read(client, tenant, f"/v1/patients/{patient_id}", r.json()["position"])
    assert patient["specialty_data"] == {"orthopedics": {"weight_kg": 85, "height_cm": 180}}


async def test_a_change_of_one_specialty_works_while_another_is_disabled(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """The disabled plugin's data is neither checked nor touched."""
    await enable(client, tenant, "cardiac", "orthopedics")
    r = await register(client, tenant, specialty_data={"cardiac": CARDIAC, "orthopedics": ORTHO})
    patient_id = r.json()["id"]
    await enable(client, tenant, "orthopedics")
    r = await change(client, tenant, patient_id, {"orthopedics": {"laterality": "left"}})
    assert r.status_code == 200, r.text
    assert r.json()["specialty_data"] == {
        "cardiac": CARDIAC,
        "orthopedics": {**ORTHO, "laterality": "left"},
    }
    r = await change(client, tenant, patient_id, {"cardiac": {"nyha_class": "III"}})
    assert error_fields(r) == {"specialty_data.cardiac"}


async def test_a_visit_records_the_fields_given_and_leaves_the_patients_alone(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await enable(client, tenant, "cardiac", "orthopedics")
    r = await register(client, tenant, specialty_data={"cardiac": CARDIAC, "orthopedics": ORTHO})
    patient = r.json()
    doctor = await create_practitioner(client, tenant)
    given = {
        "orthopedics": {"weight_kg": 90, "affected_joint": None},
        "cardiac": {"ejection_fraction": 40},
    }
    r = await client.post(
        "/v1/visits",
        json={
            "patient_id": patient["id"],
            "practitioner_id": doctor["id"],
            "specialty_data": given,
        },
        headers=tenant.as_role("DOCTOR"),
    )
    assert r.status_code == 201, r.text
    visit = r.json()
    assert visit["specialty_data"] == {
        "orthopedics": {"weight_kg": 90},
        "cardiac": {"ejection_fraction": 40},
    }
    bmi = visit["calculations"]["orthopedics.bmi"]
    assert bmi["inputs"] == {"height_cm": 180, "weight_kg": 90}, "the patient's height counts"
    physio = {"plugin": "orthopedics", "type": "physiotherapy_session", "data": {"mobility": "bed"}}
    r = await client.post(
        f"/v1/visits/{visit['id']}/specialty-events", json=physio, headers=tenant.as_role("NURSE")
    )
    assert r.status_code == 200, r.text
    assert r.json()["specialty_data"] == visit["specialty_data"]
    after = await read(client, tenant, f"/v1/patients/{patient['id']}", r.json()["position"])
    assert after["specialty_data"] == {"cardiac": CARDIAC, "orthopedics": ORTHO}


async def test_an_admission_records_the_fields_given_and_leaves_the_patients_alone(
    client: httpx.AsyncClient,
) -> None:
    tenant = await new_tenant(client, kind="hospital")
    await enable(client, tenant, "cardiac", "orthopedics")
    ward = await define_ward(client, tenant, "Surgery", ["S1"])
    r = await register(client, tenant, specialty_data={"cardiac": CARDIAC, "orthopedics": ORTHO})
    patient = r.json()
    given = {
        "cardiac": {"perfusion_time_min": 95, "nyha_class": None},
        "orthopedics": {"asa_class": "II"},
    }
    r = await admit_raw(client, tenant, patient["id"], ward["id"], "S1", specialty_data=given)
    assert r.status_code == 201, r.text
    admission = r.json()
    assert admission["specialty_data"] == {
        "cardiac": {"perfusion_time_min": 95},
        "orthopedics": {"asa_class": "II"},
    }
    cath = {
        "plugin": "cardiac",
        "type": "catheterization",
        "data": {"access_site": "radial", "outcome": "completed"},
    }
    r = await client.post(
        f"/v1/admissions/{admission['id']}/specialty-events",
        json=cath,
        headers=tenant.as_role("DOCTOR"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["specialty_data"] == admission["specialty_data"]
    after = await read(client, tenant, f"/v1/patients/{patient['id']}", r.json()["position"])
    assert after["specialty_data"] == {"cardiac": CARDIAC, "orthopedics": ORTHO}
