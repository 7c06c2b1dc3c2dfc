"""A patient's allergies: recorded by clinicians and pharmacists, sealed, listed, removed with a
reason, and a prescription naming a recorded allergen (the drug, a name of it, its class) warns."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
from e2e_helpers import assert_problem, error_fields
from support import TenantFixture
from visit_helpers import OpenVisit, ok, open_walk_in

PENICILLIN = {"substance": "Penicillins", "reaction": "anaphylaxis", "severity": "severe"}
AMOXICILLIN = {"medication": "Amoxil", "dose": "500 mg", "route": "oral", "frequency": "tds"}
PARACETAMOL = {"medication": "paracetamol", "dose": "1 g", "route": "oral", "frequency": "qds"}


def _allergies(visit: OpenVisit) -> str:
    return f"/v1/patients/{visit.patient_id}/allergies"


async def _prescribed(client: httpx.AsyncClient, visit: OpenVisit, rx: dict[str, Any]) -> list[str]:
    issued = await ok(client, visit, "/prescriptions", rx, "DOCTOR")
    return [w["rule"] for w in issued["warnings"]]


async def test_a_recorded_allergen_warns_the_prescriber_until_it_is_removed(
    client: httpx.AsyncClient, tenant: TenantFixture, owner_dsn: str
) -> None:
    visit = await open_walk_in(client, tenant)
    nurse = tenant.as_role("NURSE")
    r = await client.post(_allergies(visit), json=PENICILLIN, headers=nurse)
    assert r.status_code == 201, r.text
    [allergy] = r.json()["allergies"]
    assert (allergy["substance"], allergy["severity"]) == ("Penicillins", "severe")
    again = await client.post(_allergies(visit), json={"substance": " penicillins "}, headers=nurse)
    assert again.json()["version"] == r.json()["version"]  # already recorded: nothing new

    issued = await ok(client, visit, "/prescriptions", AMOXICILLIN, "DOCTOR")
    [warning] = [w for w in issued["warnings"] if w["rule"] == "allergy"]
    assert "penicillin" in warning["message"] and "anaphylaxis" in warning["message"]
    assert "allergy" not in await _prescribed(client, visit, PARACETAMOL)

    listed = await client.get(_allergies(visit), headers=tenant.as_role("PHARMACIST"))
    assert [a["allergy_id"] for a in listed.json()["allergies"]] == [allergy["allergy_id"]]
    conn = await asyncpg.connect(owner_dsn)
    try:
        stored = await conn.fetchval(
            "SELECT data::text FROM events WHERE event_type = 'AllergyRecorded' AND tenant_id = $1",
            tenant.id,
        )
    finally:
        await conn.close()
    assert "enicillin" not in stored and "anaphylaxis" not in stored

    removal = f"{_allergies(visit)}/{allergy['allergy_id']}/remove"
    r = await client.post(removal, json={"reason": "tolerated amoxicillin in 2024"}, headers=nurse)
    assert r.status_code == 200 and r.json()["allergies"] == [], r.text
    stopped = await ok(client, visit, "/prescriptions", {**AMOXICILLIN, "dose": "250 mg"}, "DOCTOR")
    assert "allergy" not in [w["rule"] for w in stopped["warnings"]]


async def test_who_records_allergies_and_what_is_refused(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    for role in ("RECEPTIONIST", "LAB_TECHNICIAN", "PATIENT"):
        r = await client.post(_allergies(visit), json=PENICILLIN, headers=tenant.as_role(role))
        assert_problem(r, 403, "FORBIDDEN")
    doctor = tenant.as_role("DOCTOR")
    r = await client.post(
        _allergies(visit), json={**PENICILLIN, "severity": "fatal"}, headers=doctor
    )
    assert error_fields(r) == {"severity"}
    unknown = f"/v1/patients/{uuid.uuid4()}/allergies"
    assert error_fields(await client.post(unknown, json=PENICILLIN, headers=doctor)) == {
        "patient_id"
    }
    assert_problem(await client.get(unknown, headers=doctor), 404, "NOT_FOUND")
    r = await client.post(
        f"{_allergies(visit)}/{uuid.uuid4()}/remove", json={"reason": "x"}, headers=doctor
    )
    assert_problem(r, 404, "NOT_FOUND")
    r = await client.post(
        f"/v1/patients/{visit.patient_id}/erase",
        json={"reason": "request"},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.status_code == 200, r.text
    r = await client.post(_allergies(visit), json=PENICILLIN, headers=doctor)
    assert_problem(r, 409, "PATIENT_ERASED")
