"""The shipped diabetes plugin (plugins/diabetes, no Python) through the API: values given in
other units are recorded in their field's own, eGFR by CKD-EPI 2021 and its warning, and a
PATCH of one field keeps every other field and plugin."""

from __future__ import annotations

import httpx
from e2e_helpers import error_fields
from specialty_helpers import enable, register
from support import TenantFixture

CARDIAC = {"nyha_class": "II", "atrial_fibrillation": True}


async def test_the_egfr_warning_fires_from_creatinine_in_micromoles(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    assert (await enable(client, tenant, "diabetes", "cardiac")).status_code == 200
    given = {
        "diabetes_type": "type_2",
        "hba1c": {"value": 7.0, "unit": "%"},
        "creatinine": {"value": 265, "unit": "umol/L"},
    }
    r = await register(
        client,
        tenant,
        birth_date="1950-06-15",
        sex="female",
        specialty_data={"diabetes": given, "cardiac": CARDIAC},
    )
    assert r.status_code == 201, r.text
    patient = r.json()
    assert patient["specialty_data"]["diabetes"] == {
        "diabetes_type": "type_2",
        "hba1c": 53.0,
        "creatinine": 3.0,
    }
    assert [w["rule"] for w in patient["warnings"]] == ["diabetes.egfr_below_30"]
    egfr = patient["calculations"]["diabetes.egfr"]
    assert egfr["inputs"]["creatinine"] == 3.0 and int(egfr["result"]) < 30

    r = await client.patch(
        f"/v1/patients/{patient['id']}",
        json={"specialty_data": {"diabetes": {"diagnosis_year": 2002}}},
        headers=tenant.as_role("NURSE"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["specialty_data"] == {
        "diabetes": {
            "diabetes_type": "type_2",
            "hba1c": 53.0,
            "creatinine": 3.0,
            "diagnosis_year": 2002,
        },
        "cardiac": CARDIAC,
    }

    r = await client.patch(
        f"/v1/patients/{patient['id']}",
        json={"specialty_data": {"diabetes": {"hba1c": {"value": 7.0, "unit": "mg/dL"}}}},
        headers=tenant.as_role("NURSE"),
    )
    assert error_fields(r) == {"specialty_data.diabetes.hba1c.unit"}
