"""A specialty written with no Python at all (tests/fixtures/nephrology) through the API: eGFR
by CKD-EPI 2021, its KDIGO category computed from eGFR's result, and a warning rule on eGFR,
each round of calculators outside the command's transaction."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
from specialty_helpers import FIXTURES, enable, own_plugins, register
from support import TenantFixture

NEPHROLOGY = FIXTURES.parent / "nephrology"


async def test_the_egfr_warning_fires_and_follows_the_creatinine(
    client: httpx.AsyncClient, tenant: TenantFixture, tmp_path: Path
) -> None:
    shutil.copytree(NEPHROLOGY, tmp_path / "nephrology")
    async with own_plugins(tmp_path):
        assert (await enable(client, tenant, "nephrology")).status_code == 200
        r = await register(
            client,
            tenant,
            birth_date="1950-06-15",
            sex="male",
            specialty_data={"nephrology": {"creatinine_mg_dl": 3.0}},
        )
        assert r.status_code == 201, r.text
        patient = r.json()
        assert [w["rule"] for w in patient["warnings"]] == ["nephrology.egfr_below_30"]
        egfr = patient["calculations"]["nephrology.egfr"]
        assert int(egfr["result"]) < 30 and egfr["inputs"]["creatinine_mg_dl"] == 3.0
        stage = patient["calculations"]["nephrology.ckd_stage"]
        assert (stage["result"], stage["inputs"]) == ("G4", {"egfr": int(egfr["result"])})

        r = await client.patch(
            f"/v1/patients/{patient['id']}",
            json={"specialty_data": {"nephrology": {"creatinine_mg_dl": 0.9}}},
            headers=tenant.as_role("NURSE"),
        )
        assert r.status_code == 200, r.text
        assert r.json()["warnings"] == []
        calculations = r.json()["calculations"]
        assert int(calculations["nephrology.egfr"]["result"]) >= 60
        assert calculations["nephrology.ckd_stage"]["result"] in ("G1", "G2")
