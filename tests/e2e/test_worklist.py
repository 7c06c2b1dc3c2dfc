"""The worklist (GET /v1/worklist): the diabetes plugin's recalls over a patient's history across
visits ("no foot exam in 12 months", "HbA1c rising over the last three"), per tenant, paged,
gone with an erasure."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from admission_helpers import read
from e2e_helpers import create_practitioner, iso, now
from specialty_helpers import enable, register
from support import TenantFixture, new_tenant


async def due(
    client: httpx.AsyncClient, tenant: TenantFixture, after: int, **params: Any
) -> list[tuple[str, str]]:
    body = await read(client, tenant, "/v1/worklist", after, **params)
    return [(i["patient_id"], i["recall"]) for i in body["items"]]


async def visit_with(
    client: httpx.AsyncClient, tenant: TenantFixture, patient_id: str, hba1c: float
) -> dict[str, Any]:
    doctor = await create_practitioner(client, tenant)
    body = {
        "patient_id": patient_id,
        "practitioner_id": doctor["id"],
        "specialty_data": {"diabetes": {"hba1c": hba1c}},
    }
    r = await client.post("/v1/visits", json=body, headers=tenant.as_role("DOCTOR"))
    assert r.status_code == 201, r.text
    visit: dict[str, Any] = r.json()
    return visit


async def test_recalls_follow_the_patients_visits(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await enable(client, tenant, "diabetes")
    r = await register(client, tenant, specialty_data={"diabetes": {"hba1c": 50}})
    patient = r.json()
    pid = patient["id"]
    listed = await due(client, tenant, patient["position"], patient_id=pid)
    assert listed == [(pid, "eye_screening_due"), (pid, "foot_exam_due")]

    visit = await visit_with(client, tenant, pid, 52)
    foot = {"plugin": "diabetes", "type": "foot_exam", "data": {"risk": "low"}}
    r = await client.post(
        f"/v1/visits/{visit['id']}/specialty-events", json=foot, headers=tenant.as_role("NURSE")
    )
    assert r.status_code == 200, r.text
    at = r.json()["position"]
    assert await due(client, tenant, at, patient_id=pid) == [(pid, "eye_screening_due")]
    next_year = iso(now() + dt.timedelta(days=366))
    assert (pid, "foot_exam_due") in await due(client, tenant, at, patient_id=pid, due_by=next_year)

    await visit_with(client, tenant, pid, 58)
    third = await visit_with(client, tenant, pid, 64)
    listed = await due(client, tenant, third["position"], patient_id=pid)
    assert (pid, "hba1c_rising") in listed

    r = await client.patch(
        f"/v1/visits/{third['id']}/specialty-data",
        json={"specialty_data": {"diabetes": {"hba1c": 55}}},
        headers=tenant.as_role("NURSE"),
    )
    assert r.status_code == 200, r.text
    at = r.json()["position"]
    assert (pid, "hba1c_rising") not in await due(client, tenant, at, patient_id=pid)

    other = await new_tenant(client)
    assert await due(client, other, at, patient_id=pid) == []

    r = await client.post(
        f"/v1/patients/{pid}/erase",
        json={"reason": "request"},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.status_code == 200, r.text
    assert await due(client, tenant, r.json()["position"], patient_id=pid) == []


async def test_the_worklist_pages_soonest_due_first(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await enable(client, tenant, "diabetes")
    first = (await register(client, tenant, specialty_data={"diabetes": {"hba1c": 50}})).json()
    second = (await register(client, tenant, specialty_data={"diabetes": {"hba1c": 51}})).json()
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"plugin": "diabetes", "recall": "foot_exam_due", "limit": 1}
        if cursor is not None:
            params["cursor"] = cursor
        body = await read(client, tenant, "/v1/worklist", second["position"], **params)
        seen += [(i["patient_id"], i["recall"]) for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen[-2:] == [(first["id"], "foot_exam_due"), (second["id"], "foot_exam_due")]


async def test_a_merged_duplicate_is_on_the_worklist_once_under_the_kept_record(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """The person's recalls are computed on both records' history under the kept one: the
    duplicate's foot exam counts, and the HbA1c results of both records rise together. The
    duplicate erased later, its part of that history goes."""
    await enable(client, tenant, "diabetes")
    kept = (await register(client, tenant, specialty_data={"diabetes": {"hba1c": 50}})).json()
    duplicate = (await register(client, tenant, specialty_data={"diabetes": {"hba1c": 52}})).json()
    visit = await visit_with(client, tenant, duplicate["id"], 58)
    foot = {"plugin": "diabetes", "type": "foot_exam", "data": {"risk": "low"}}
    r = await client.post(
        f"/v1/visits/{visit['id']}/specialty-events", json=foot, headers=tenant.as_role("NURSE")
    )
    assert r.status_code == 200, r.text
    before = r.json()["position"]
    k, d = kept["id"], duplicate["id"]
    assert await due(client, tenant, before, patient_id=k) == [
        (k, "eye_screening_due"),
        (k, "foot_exam_due"),
    ]
    assert await due(client, tenant, before, patient_id=d) == [(d, "eye_screening_due")]

    r = await client.post(
        f"/v1/patients/{d}/merge",
        json={"into": k, "reason": "the same person registered twice"},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.status_code == 200, r.text
    merged = r.json()["position"]
    assert await due(client, tenant, merged, patient_id=d) == []
    assert await due(client, tenant, merged, patient_id=k) == [
        (k, "eye_screening_due"),
        (k, "hba1c_rising"),
    ]
    listed = await due(client, tenant, merged, plugin="diabetes", limit=100)
    assert {p for p, _ in listed} & {k, d} == {k}

    r = await client.post(
        f"/v1/patients/{d}/erase",
        json={"reason": "request"},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.status_code == 200, r.text
    erased = r.json()["position"]
    assert await due(client, tenant, erased, patient_id=k) == [
        (k, "eye_screening_due"),
        (k, "foot_exam_due"),
    ]
    assert await due(client, tenant, erased, patient_id=d) == []
