"""A patient reads their own appointments and visits: a PATIENT token's `sub` is the patient's
id. One of them by id (anyone else's is 404 to them) and their lists (always their own; asking
for another patient's is 403)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
from e2e_helpers import assert_problem, book, create_patient, create_practitioner, now
from support import TenantFixture
from visit_helpers import NOTE

H = dt.timedelta(hours=1)


async def booked_for(
    client: httpx.AsyncClient, tenant: TenantFixture, patient: dict[str, Any], hours: int
) -> dict[str, Any]:
    doctor = await create_practitioner(client, tenant)
    start = (now() + dt.timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    start += hours * H
    r = await book(client, tenant, patient["id"], doctor["id"], start, start + H)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def walk_in(
    client: httpx.AsyncClient, tenant: TenantFixture, patient: dict[str, Any], signed: bool = False
) -> dict[str, Any]:
    """A walk-in visit of the patient; `signed`: noted and signed off (what a patient sees)."""
    doctor = await create_practitioner(client, tenant)
    body = {"patient_id": patient["id"], "practitioner_id": doctor["id"]}
    r = await client.post("/v1/visits", json=body, headers=tenant.as_role("RECEPTIONIST"))
    assert r.status_code == 201, r.text
    if signed:
        as_doctor = tenant.as_role("DOCTOR", actor=doctor["id"])
        url = f"/v1/visits/{r.json()['id']}"
        assert (await client.put(f"{url}/note", json=NOTE, headers=as_doctor)).is_success
        r = await client.post(f"{url}/sign-off", headers=as_doctor)
        assert r.status_code == 200, r.text
    visit: dict[str, Any] = r.json()
    return visit


def as_patient(tenant: TenantFixture, patient: dict[str, Any]) -> dict[str, str]:
    return tenant.as_role("PATIENT", actor=patient["id"])


async def test_a_patient_reads_their_own_appointment_and_no_one_elses(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    ann, bob = await create_patient(client, tenant), await create_patient(client, tenant)
    mine = await booked_for(client, tenant, ann, 0)
    theirs = await booked_for(client, tenant, bob, 0)
    params = {"min_position": theirs["position"]}
    r = await client.get(
        f"/v1/appointments/{mine['id']}", params=params, headers=as_patient(tenant, ann)
    )
    assert r.status_code == 200, r.text
    assert r.json()["patient_id"] == ann["id"]
    r = await client.get(
        f"/v1/appointments/{theirs['id']}", params=params, headers=as_patient(tenant, ann)
    )
    assert_problem(r, 404, "NOT_FOUND")


async def test_a_patients_list_is_their_own_appointments(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    ann, bob = await create_patient(client, tenant), await create_patient(client, tenant)
    first = await booked_for(client, tenant, ann, 0)
    second = await booked_for(client, tenant, ann, 2)
    last = await booked_for(client, tenant, bob, 0)
    params = {"min_position": last["position"]}
    r = await client.get("/v1/appointments", params=params, headers=as_patient(tenant, ann))
    assert r.status_code == 200, r.text
    assert [a["id"] for a in r.json()["items"]] == [first["id"], second["id"]]
    r = await client.get(
        "/v1/appointments",
        params={**params, "patient_id": ann["id"]},
        headers=as_patient(tenant, ann),
    )
    assert [a["id"] for a in r.json()["items"]] == [first["id"], second["id"]]
    r = await client.get(
        "/v1/appointments",
        params={**params, "patient_id": bob["id"]},
        headers=as_patient(tenant, ann),
    )
    assert_problem(r, 403, "FORBIDDEN")
    r = await client.get(
        "/v1/appointments",
        params={**params, "patient_id": bob["id"]},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert [a["id"] for a in r.json()["items"]] == [last["id"]]


async def test_a_patients_list_is_their_own_visits(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    ann, bob = await create_patient(client, tenant), await create_patient(client, tenant)
    mine = await walk_in(client, tenant, ann, signed=True)
    await walk_in(client, tenant, ann)  # still open: not theirs to read yet
    theirs = await walk_in(client, tenant, bob, signed=True)
    params = {"min_position": theirs["position"]}
    r = await client.get("/v1/visits", params=params, headers=as_patient(tenant, ann))
    assert r.status_code == 200, r.text
    assert [v["id"] for v in r.json()["items"]] == [mine["id"]]
    r = await client.get(
        "/v1/visits", params={**params, "patient_id": bob["id"]}, headers=as_patient(tenant, ann)
    )
    assert_problem(r, 403, "FORBIDDEN")


async def test_a_patient_token_whose_sub_names_no_patient_is_refused_a_list(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    for path in ("/v1/appointments", "/v1/visits"):
        r = await client.get(path, headers=tenant.as_role("PATIENT", actor="not-a-patient"))
        assert_problem(r, 403, "FORBIDDEN")
    stranger = tenant.as_role("PATIENT", actor=str(uuid.uuid4()))
    r = await client.get("/v1/appointments", headers=stranger)
    assert r.json()["items"] == []
