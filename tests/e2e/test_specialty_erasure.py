"""Erasure covers specialty data: a patient's specialty values (on their record, their visits'
data, plugin events and calculations) are sealed under their key, never stored in the clear,
and read redacted everywhere once they are erased: the patient, the visit's read model, the
visit's state folded from its events."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
from admission_helpers import read
from e2e_helpers import assert_problem, create_practitioner
from specialty_helpers import enable, register
from support import TenantFixture

HBA1C = 71.7  # a value no other field of these streams holds


async def _visit_with_specialty_values(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> dict[str, Any]:
    await enable(client, tenant, "diabetes")
    given = {"diabetes_type": "type_1", "hba1c": HBA1C, "creatinine": 1.13}
    r = await register(client, tenant, specialty_data={"diabetes": given})
    assert r.status_code == 201, r.text
    patient = r.json()
    doctor = await create_practitioner(client, tenant)
    body = {
        "patient_id": patient["id"],
        "practitioner_id": doctor["id"],
        "specialty_data": {"diabetes": {"hba1c": HBA1C, "creatinine": 1.13}},
    }
    r = await client.post("/v1/visits", json=body, headers=tenant.as_role("DOCTOR"))
    assert r.status_code == 201, r.text
    visit = r.json()
    foot = {"plugin": "diabetes", "type": "foot_exam", "data": {"risk": "moderate"}}
    r = await client.post(
        f"/v1/visits/{visit['id']}/specialty-events", json=foot, headers=tenant.as_role("NURSE")
    )
    assert r.status_code == 200, r.text
    return {"patient": patient, "visit": r.json()}


async def test_specialty_values_are_never_stored_in_the_clear(
    client: httpx.AsyncClient, tenant: TenantFixture, owner_dsn: str
) -> None:
    made = await _visit_with_specialty_values(client, tenant)
    streams = [uuid.UUID(made["patient"]["id"]), uuid.UUID(made["visit"]["id"])]
    conn = await asyncpg.connect(owner_dsn)
    try:
        stored = await conn.fetch(
            "SELECT event_type, data::text AS data FROM events WHERE stream_id = ANY($1::uuid[])",
            streams,
        )
    finally:
        await conn.close()
    kinds = {r["event_type"] for r in stored}
    assert {"SpecialtyDataRecorded", "SpecialtyEventRecorded", "CalculationRecorded"} <= kinds
    for row in stored:
        assert str(HBA1C) not in row["data"] and "moderate" not in row["data"], row
        assert "1.13" not in row["data"] and "type_1" not in row["data"], row


async def test_an_erasure_redacts_specialty_values_everywhere(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    made = await _visit_with_specialty_values(client, tenant)
    patient, visit = made["patient"], made["visit"]
    assert visit["calculations"]["diabetes.egfr"]["inputs"]["creatinine"] == 1.13
    r = await client.post(
        f"/v1/patients/{patient['id']}/erase",
        json={"reason": "patient's request"},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.status_code == 200, r.text
    assert (r.json()["specialty_data"], r.json()["calculations"]) == ({}, {})

    at = r.json()["position"]
    after = await read(client, tenant, f"/v1/patients/{patient['id']}", at)
    assert (after["specialty_data"], after["calculations"]) == ({}, {})
    shown = await read(client, tenant, f"/v1/visits/{visit['id']}", at)
    folded = await client.get(f"/v1/streams/visit/{visit['id']}", headers=tenant.as_role("AUDITOR"))
    assert folded.status_code == 200, folded.text
    for state in (shown, folded.json()["state"]):
        assert state["specialty_data"] == {}
        [foot] = state["specialty_events"]
        assert (foot["type"], foot["data"]) == ("foot_exam", {})
        egfr = state["calculations"]["diabetes.egfr"]
        assert (egfr["inputs"], egfr["result"]) == ({}, "[erased]")

    r = await client.patch(
        f"/v1/visits/{visit['id']}/specialty-data",
        json={"specialty_data": {"diabetes": {"hba1c": 60}}},
        headers=tenant.as_role("NURSE"),
    )
    assert_problem(r, 409, "SUBJECT_ERASED")
