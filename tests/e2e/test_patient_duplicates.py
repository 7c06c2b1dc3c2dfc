"""Registration warns of possible duplicates (same birth date and similar name, or same phone)
and registers all the same."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from e2e_helpers import create_patient
from support import TenantFixture


async def _projected(
    client: httpx.AsyncClient, tenant: TenantFixture, patient: dict[str, Any]
) -> None:
    """The check reads the patients read model: wait until it holds `patient`."""
    r = await client.get(
        f"/v1/patients/{patient['id']}",
        params={"min_position": patient["position"]},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert r.status_code == 200, r.text


def _duplicates(created: dict[str, Any]) -> list[dict[str, Any]]:
    found = [w for w in created["warnings"] if w["rule"] == "possible_duplicate"]
    return found[0]["candidates"] if found else []


async def test_four_ann_lees_are_registered_with_a_warning_naming_the_others(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    same = {"given_name": "Ann", "family_name": "Lee", "birth_date": "1984-03-02"}
    first = await create_patient(client, tenant, **same, phone="+1 212 555 0101")
    assert _duplicates(first) == []
    await _projected(client, tenant, first)
    second = await create_patient(client, tenant, **{**same, "given_name": "Anne"})
    assert _duplicates(second) == [
        {"patient_id": first["id"], "reasons": ["same_birth_date_similar_name"]}
    ]
    await _projected(client, tenant, second)
    third = await create_patient(
        client, tenant, given_name="Bo", family_name="Chan", phone="(212) 555-0101"
    )
    assert _duplicates(third) == [{"patient_id": first["id"], "reasons": ["same_phone"]}]
    await _projected(client, tenant, third)
    fourth = await create_patient(client, tenant, **same, phone="212 555 0101")
    assert sorted(_duplicates(fourth), key=lambda c: c["patient_id"]) == sorted(
        [
            {"patient_id": first["id"], "reasons": ["same_birth_date_similar_name", "same_phone"]},
            {"patient_id": second["id"], "reasons": ["same_birth_date_similar_name"]},
            {"patient_id": third["id"], "reasons": ["same_phone"]},
        ],
        key=lambda c: c["patient_id"],
    )
    assert "may be this patient" in fourth["warnings"][-1]["message"]


async def test_an_erased_patient_is_no_candidate(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    name = {
        "given_name": "Cy",
        "family_name": f"Roe{uuid.uuid4().hex[:4]}",
        "birth_date": "1970-01-01",
    }
    gone = await create_patient(client, tenant, **name)
    r = await client.post(
        f"/v1/patients/{gone['id']}/erase",
        json={"reason": "request"},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.status_code == 200, r.text
    await _projected(client, tenant, r.json())
    assert _duplicates(await create_patient(client, tenant, **name)) == []
