"""Merging a duplicate patient: an event on both records; search finds only the kept one; the
duplicate takes nothing new and says where its patient went."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
from e2e_helpers import assert_problem, book, create_patient, create_practitioner, error_fields, now
from support import TenantFixture

ANN = {"given_name": "Ann", "family_name": "Lee-Merge", "birth_date": "1980-02-02"}


async def _merge(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    duplicate: str,
    into: str,
    role: str = "CLINIC_ADMIN",
) -> httpx.Response:
    body = {"into": into, "reason": "the same person registered twice"}
    return await client.post(
        f"/v1/patients/{duplicate}/merge", json=body, headers=tenant.as_role(role)
    )


async def _found(client: httpx.AsyncClient, tenant: TenantFixture, after: int) -> list[str]:
    params = {"q": "ann lee-merge", "min_position": after}
    r = await client.get("/v1/patients", params=params, headers=tenant.as_role("RECEPTIONIST"))
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()["items"]]


async def test_a_duplicate_merged_into_the_kept_patient(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    kept = await create_patient(client, tenant, **ANN)
    assert await _found(client, tenant, kept["position"]) == [kept["id"]]  # known to the desk
    duplicate: dict[str, Any] = await create_patient(client, tenant, **ANN)
    assert [w["rule"] for w in duplicate["warnings"]] == ["possible_duplicate"]
    assert sorted(await _found(client, tenant, duplicate["position"])) == sorted(
        [kept["id"], duplicate["id"]]
    )
    assert_problem(
        await _merge(client, tenant, duplicate["id"], kept["id"], "RECEPTIONIST"), 403, "FORBIDDEN"
    )

    r = await _merge(client, tenant, duplicate["id"], kept["id"])
    assert r.status_code == 200, r.text
    assert r.json()["merged_into"] == kept["id"]
    assert await _found(client, tenant, r.json()["position"]) == [kept["id"]]
    params = {"min_position": r.json()["position"]}
    shown = await client.get(
        f"/v1/patients/{kept['id']}", params=params, headers=tenant.as_role("DOCTOR")
    )
    assert shown.json()["merged_from"] == [duplicate["id"]]
    auditor = tenant.as_role("AUDITOR")
    for patient, event in ((duplicate, "PatientMerged"), (kept, "PatientDuplicateMergedIn")):
        r = await client.get(f"/v1/streams/patient/{patient['id']}/events", headers=auditor)
        assert r.json()["events"][-1]["type"] == event

    doctor = await create_practitioner(client, tenant)
    start = now() + dt.timedelta(days=2)
    booked = await book(
        client, tenant, duplicate["id"], doctor["id"], start, start + dt.timedelta(minutes=30)
    )
    problem = assert_problem(booked, 409, "PATIENT_MERGED")
    assert kept["id"] in problem["detail"]
    r = await client.patch(
        f"/v1/patients/{duplicate['id']}",
        json={"email": "ann@example.org"},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert_problem(r, 409, "PATIENT_MERGED")
    assert_problem(await _merge(client, tenant, duplicate["id"], kept["id"]), 409, "PATIENT_MERGED")


async def test_what_cannot_be_merged(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    one, other = await create_patient(client, tenant), await create_patient(client, tenant)
    assert error_fields(await _merge(client, tenant, one["id"], one["id"])) == {"into"}
    assert error_fields(await _merge(client, tenant, one["id"], str(uuid.uuid4()))) == {"into"}
    r = await client.post(
        f"/v1/patients/{other['id']}/erase",
        json={"reason": "request"},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.status_code == 200, r.text
    assert error_fields(await _merge(client, tenant, one["id"], other["id"])) == {"into"}
    assert_problem(await _merge(client, tenant, other["id"], one["id"]), 409, "PATIENT_ERASED")
    assert_problem(await _merge(client, tenant, str(uuid.uuid4()), one["id"]), 404, "NOT_FOUND")


async def test_a_change_records_its_reason_sealed(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    change = {"email": "ann@example.org", "reason": "the patient wrote from a new address"}
    r = await client.patch(
        f"/v1/patients/{patient['id']}", json=change, headers=tenant.as_role("RECEPTIONIST")
    )
    assert r.status_code == 200, r.text
    r = await client.get(
        f"/v1/streams/patient/{patient['id']}/events", headers=tenant.as_role("AUDITOR")
    )
    [changed] = [e for e in r.json()["events"] if e["type"] == "PatientDetailsChanged"]
    assert changed["data"]["reason"] == "the patient wrote from a new address"
    assert changed["schema_version"] == 2
