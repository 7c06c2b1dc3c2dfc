"""A visit's and an admission's specialty data change after they open (a late lab result, a
correction) until sign-off or discharge: as events at their clinical time within the
late-charting policy, only the fields named, calculations run again with their earlier
results kept in the stream's history."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from admission_helpers import admit_raw, command, define_ward
from e2e_helpers import assert_problem, create_practitioner, error_fields, iso, now
from specialty_helpers import enable, history, register
from support import TenantFixture, new_tenant
from visit_helpers import NOTE

DIABETES = {"hba1c": 58, "creatinine": 1.0}


async def change(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    path: str,
    data: dict[str, Any],
    role: str = "NURSE",
    **extra: Any,
) -> httpx.Response:
    return await client.patch(
        f"{path}/specialty-data",
        json={"specialty_data": data, **extra},
        headers=tenant.as_role(role),
    )


async def test_a_late_creatinine_reruns_egfr_and_keeps_the_earlier_result(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await enable(client, tenant, "diabetes", "cardiac")
    r = await register(client, tenant, birth_date="1956-03-01", sex="female")
    patient = r.json()
    doctor = await create_practitioner(client, tenant)
    r = await client.post(
        "/v1/visits",
        json={
            "patient_id": patient["id"],
            "practitioner_id": doctor["id"],
            "specialty_data": {"diabetes": DIABETES, "cardiac": {"nyha_class": "II"}},
        },
        headers=tenant.as_role("DOCTOR"),
    )
    assert r.status_code == 201, r.text
    visit = r.json()
    first_egfr = visit["calculations"]["diabetes.egfr"]["result"]
    assert int(first_egfr) >= 60 and visit["warnings"] == []
    path = f"/v1/visits/{visit['id']}"

    drawn = now() - dt.timedelta(hours=3)
    late = {"creatinine": {"value": 265, "unit": "umol/L"}}
    r = await change(client, tenant, path, {"diabetes": late}, occurred_at=iso(drawn))
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["specialty_data"] == {
        "diabetes": {"hba1c": 58, "creatinine": 3.0},
        "cardiac": {"nyha_class": "II"},
    }
    assert [w["rule"] for w in changed["warnings"]] == ["diabetes.egfr_below_30"]
    assert int(changed["calculations"]["diabetes.egfr"]["result"]) < 30

    events = await history(client, tenant, "visit", visit["id"])
    [*_, recorded] = [e for e in events if e["type"] == "SpecialtyDataRecorded"]
    assert recorded["data"]["data"] == {"creatinine": 3.0}
    assert dt.datetime.fromisoformat(recorded["occurred_at"]) == drawn
    results = [e["data"]["result"] for e in events if e["type"] == "CalculationRecorded"]
    assert results == [first_egfr, changed["calculations"]["diabetes.egfr"]["result"]]

    r = await change(client, tenant, path, {"diabetes": {"hba1c": None}, "cardiac": None})
    assert r.status_code == 200, r.text
    assert r.json()["specialty_data"] == {"diabetes": {"creatinine": 3.0}}

    r = await change(
        client, tenant, path, {"diabetes": {"hba1c": 58}}, occurred_at="2001-01-01T00:00:00Z"
    )
    assert error_fields(r) == {"occurred_at"}
    r = await change(client, tenant, path, {"diabetes": {"egfr": 50}})
    assert error_fields(r) == {"specialty_data.diabetes.egfr"}
    r = await change(client, tenant, path, {"diabetes": {"hba1c": 58}}, role="RECEPTIONIST")
    assert_problem(r, 403, "FORBIDDEN")

    doctor_headers = tenant.as_role("DOCTOR", actor=doctor["id"])
    assert (await client.put(f"{path}/note", json=NOTE, headers=doctor_headers)).status_code == 200
    assert (await client.post(f"{path}/sign-off", headers=doctor_headers)).status_code == 200
    r = await change(client, tenant, path, {"diabetes": {"hba1c": 60}})
    assert_problem(r, 409, "VISIT_CLOSED")


async def test_an_admissions_data_changes_until_discharge(client: httpx.AsyncClient) -> None:
    tenant = await new_tenant(client, kind="hospital")
    await enable(client, tenant, "orthopedics")
    ward = await define_ward(client, tenant, "Surgery", ["S1"])
    patient = (await register(client, tenant)).json()
    given = {"orthopedics": {"weight_kg": 80, "height_cm": 180, "asa_class": "II"}}
    r = await admit_raw(client, tenant, patient["id"], ward["id"], "S1", specialty_data=given)
    assert r.status_code == 201, r.text
    admission = r.json()
    assert admission["calculations"]["orthopedics.bmi"]["result"] == "24.7"
    path = f"/v1/admissions/{admission['id']}"

    r = await change(
        client, tenant, path, {"orthopedics": {"weight_kg": {"value": 286, "unit": "lb"}}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["specialty_data"]["orthopedics"] == {
        "weight_kg": 129.73,
        "height_cm": 180,
        "asa_class": "II",
    }
    assert r.json()["calculations"]["orthopedics.bmi"]["result"] == "40.0"
    assert [w["rule"] for w in r.json()["warnings"]] == ["orthopedics.severe_obesity"]

    unchanged = await change(client, tenant, path, {"orthopedics": {"asa_class": "II"}})
    assert unchanged.status_code == 200, unchanged.text
    assert unchanged.json()["version"] == r.json()["version"], "nothing changed, nothing recorded"

    discharge = {"disposition": "home", "summary": "recovered"}
    assert (
        await command(client, tenant, admission["id"], "discharge", discharge)
    ).status_code == 200
    r = await change(client, tenant, path, {"orthopedics": {"asa_class": "III"}})
    assert_problem(r, 409, "ADMISSION_CLOSED")
