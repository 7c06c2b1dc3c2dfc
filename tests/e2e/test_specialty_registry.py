"""The registry through the API with a plugins directory of the test's own (the
CARETRAIL_PLUGINS_DIR setting): a broken manifest is reported and skipped while the API keeps
serving, a reload picks up the fix, and a third plugin added by writing only its folder works
end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_helpers import create_practitioner, error_fields
from specialty_helpers import enable, own_plugins, register, write_plugin
from support import TenantFixture, bearer

from backend.settings import Settings
from backend.specialties import registry

BROKEN = """apiVersion: caretrail.io/v1
kind: SpecialtyPlugin
metadata: {name: neuro, version: 1.0.0, displayName: Neurology}
spec:
  fields:
    - {name: gcs, type: integer, min: 3, max: 15, applies_to: [patient]}
  calculators:
    - id: band
      name: GCS band
      version: "1"
      inputs: [gcs]
      expression: "__import__('os').system('id')"
      output: {type: integer}
"""


@pytest.fixture
async def plugins_dir(tmp_path: Path) -> AsyncIterator[Path]:
    """The app's registry reads a copy of the fixtures plus a broken plugin, for this test."""
    write_plugin(tmp_path, "neuro", BROKEN)
    settings = Settings(
        CARETRAIL_ENV="test", CARETRAIL_JWT_SECRET="x", CARETRAIL_PLUGINS_DIR=str(tmp_path)
    )
    assert settings.plugins_dir is not None
    async with own_plugins(Path(settings.plugins_dir)):
        yield tmp_path


async def test_a_broken_manifest_is_reported_not_fatal_and_reload_fixes_it(
    client: httpx.AsyncClient, tenant: TenantFixture, plugins_dir: Path
) -> None:
    r = await client.get("/health/ready")
    assert r.status_code == 200, r.text
    [problem] = r.json()["plugins"]["invalid"]["neuro"]
    assert problem["file"].endswith("neuro/manifest.yaml")
    assert problem["path"] == "$.spec.calculators[0].expression"
    assert problem["message"] == "refused: only whitelisted functions may be called"
    r = await client.get("/v1/specialties", headers=tenant.as_role("CLINIC_ADMIN"))
    rows = {row["name"]: row for row in r.json()["items"]}
    assert rows["neuro"]["status"] == "invalid" and rows["neuro"]["problems"]
    assert rows["dermatology"]["status"] == "loaded"
    assert error_fields(
        await client.put(
            "/v1/tenant/specialties",
            json={"specialties": ["neuro"]},
            headers=tenant.as_role("CLINIC_ADMIN"),
        )
    ) == {"specialties.0"}

    fixed = BROKEN.replace("\"__import__('os').system('id')\"", "3 if gcs <= 8 else 1")
    (plugins_dir / "neuro" / "manifest.yaml").write_text(fixed)
    r = await client.post("/v1/specialties/reload", headers=bearer(["PLATFORM_ADMIN"]))
    assert r.status_code == 200, r.text
    assert {row["name"]: row["status"] for row in r.json()["items"]} == {
        "dermatology": "loaded",
        "neuro": "loaded",
    }
    r = await client.put(
        "/v1/tenant/specialties",
        json={"specialties": ["neuro"]},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.status_code == 200, r.text


async def test_a_third_plugin_from_its_folder_alone_works_end_to_end(
    client: httpx.AsyncClient, tenant: TenantFixture, plugins_dir: Path
) -> None:
    r = await client.put(
        "/v1/tenant/specialties",
        json={"specialties": ["dermatology"]},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.status_code == 200, r.text
    r = await client.get("/v1/specialties/dermatology/config", headers=tenant.as_role("DOCTOR"))
    assert r.json()["timeline"]["event_categories"][0]["events"][0]["type"] == "lesion_assessment"
    r = await client.post(
        "/v1/patients",
        json={
            "given_name": "Mo",
            "family_name": "Reyes",
            "birth_date": "1990-01-01",
            "sex": "male",
            "specialty_data": {"dermatology": {"fitzpatrick_type": "VII"}},
        },
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert error_fields(r) == {"specialty_data.dermatology.fitzpatrick_type"}
    r = await client.post(
        "/v1/patients",
        json={
            "given_name": "Mo",
            "family_name": "Reyes",
            "birth_date": "1990-01-01",
            "sex": "male",
            "specialty_data": {"dermatology": {"fitzpatrick_type": "II"}},
        },
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert r.status_code == 201, r.text
    doctor = await create_practitioner(client, tenant)
    r = await client.post(
        "/v1/visits",
        json={"patient_id": r.json()["id"], "practitioner_id": doctor["id"]},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    visit_id = r.json()["id"]
    lesion = {
        "asymmetry": True,
        "border_irregular": False,
        "colour_varied": True,
        "diameter_mm": 7.5,
        "evolving": False,
    }
    r = await client.post(
        f"/v1/visits/{visit_id}/specialty-events",
        json={"plugin": "dermatology", "type": "lesion_assessment", "data": lesion},
        headers=tenant.as_role("DOCTOR"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["warnings"] == [
        {
            "rule": "dermatology.suspicious_lesion",
            "message": "Suspicious lesion - consider excision biopsy",
        }
    ]
    assert body["calculations"]["dermatology.abcde_count"]["result"] == "3"
    assert body["specialty_events"][0]["plugin_version"] == "0.3.1"


async def _rows(client: httpx.AsyncClient, tenant: TenantFixture) -> dict[str, Any]:
    r = await client.get("/v1/specialties", headers=tenant.as_role("CLINIC_ADMIN"))
    assert r.status_code == 200, r.text
    return {row["name"]: row for row in r.json()["items"]}


async def test_a_bad_reload_keeps_the_last_good_version_serving(
    client: httpx.AsyncClient, tenant: TenantFixture, plugins_dir: Path
) -> None:
    assert (await enable(client, tenant, "dermatology")).status_code == 200
    manifest = plugins_dir / "dermatology" / "manifest.yaml"
    good = manifest.read_text()
    manifest.write_text(good.replace("type: enum", "type: enumm", 1).replace("0.3.1", "0.4.0"))
    r = await client.post("/v1/specialties/reload", headers=bearer(["PLATFORM_ADMIN"]))
    assert r.status_code == 200, r.text
    row = (await _rows(client, tenant))["dermatology"]
    assert (row["status"], row["version"], row["enabled"]) == ("previous_version", "0.3.1", True)
    assert row["problems"][0]["path"].startswith("$.spec.fields[0]")
    r = await register(client, tenant, specialty_data={"dermatology": {"fitzpatrick_type": "II"}})
    assert r.status_code == 201, "writes accept what GET /v1/specialties says is enabled"
    assert (await client.get("/health/ready")).json()["plugins"]["loaded"]["dermatology"] == "0.3.1"

    manifest.write_text(good.replace("0.3.1", "0.4.0"))
    r = await client.post("/v1/specialties/reload", headers=bearer(["PLATFORM_ADMIN"]))
    row = {row["name"]: row for row in r.json()["items"]}["dermatology"]
    assert (row["status"], row["version"], row["problems"]) == ("loaded", "0.4.0", [])


async def test_enabled_says_what_writes_accept_when_a_plugin_does_not_serve(
    client: httpx.AsyncClient, tenant: TenantFixture, plugins_dir: Path
) -> None:
    """Enabled by the tenant, but invalid since the API started: neither shown enabled nor
    accepted, until it loads again."""
    fixed = BROKEN.replace("\"__import__('os').system('id')\"", "3 if gcs <= 8 else 1")
    (plugins_dir / "neuro" / "manifest.yaml").write_text(fixed)
    registry.active().reload()
    assert (await enable(client, tenant, "neuro")).status_code == 200
    (plugins_dir / "neuro" / "manifest.yaml").write_text(BROKEN)
    async with own_plugins(plugins_dir):  # a restart: no previous version to keep
        row = (await _rows(client, tenant))["neuro"]
        assert (row["status"], row["version"], row["enabled"]) == ("invalid", None, False)
        r = await register(client, tenant, specialty_data={"neuro": {"gcs": 9}})
        assert error_fields(r) == {"specialty_data.neuro"}
