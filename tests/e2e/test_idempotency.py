"""Idempotency-Key: a repeated POST replays the first response; one command takes effect."""

import asyncio
import datetime as dt
import uuid

import httpx
from e2e_helpers import (
    act,
    assert_problem,
    booked,
    create_patient,
    iso,
    list_all_patients,
    now,
    patient_body,
    when,
)
from support import TenantFixture, bearer


def _keyed(tenant: TenantFixture, key: str) -> dict[str, str]:
    return {**tenant.as_role("RECEPTIONIST"), "Idempotency-Key": key}


async def _patients_named(
    client: httpx.AsyncClient, tenant: TenantFixture, family_name: str
) -> list[str]:
    """Ids of the patients with this family name, read after one more write of ours, so every
    write before it (wanted or not) is in the read model."""
    marker = await create_patient(client, tenant)
    found = await list_all_patients(
        client, tenant.as_role("RECEPTIONIST"), q=family_name, after=marker["position"]
    )
    return [p["id"] for p in found if p["family_name"] == family_name]


async def test_repeat_replays_the_first_response(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    body = patient_body()
    headers = _keyed(tenant, f"k-{uuid.uuid4()}")
    first = await client.post("/v1/patients", json=body, headers=headers)
    again = await client.post("/v1/patients", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.headers["etag"] == first.headers["etag"]
    assert await _patients_named(client, tenant, body["family_name"]) == [first.json()["id"]]


async def test_same_key_with_another_body_is_422(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    headers = _keyed(tenant, f"k-{uuid.uuid4()}")
    body = patient_body()
    assert (await client.post("/v1/patients", json=body, headers=headers)).status_code == 201
    other = patient_body()
    r = await client.post("/v1/patients", json=other, headers=headers)
    assert_problem(r, 422, "IDEMPOTENCY_KEY_REUSED")
    assert await _patients_named(client, tenant, other["family_name"]) == []


async def test_keys_are_scoped_to_the_tenant(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    key = f"k-{uuid.uuid4()}"
    body = patient_body()
    mine = await client.post("/v1/patients", json=body, headers=_keyed(tenant, key))
    theirs = await client.post("/v1/patients", json=body, headers=_keyed(other_tenant, key))
    assert mine.status_code == theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]


async def test_concurrent_repeats_create_one_patient(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    body = patient_body()
    headers = _keyed(tenant, f"k-{uuid.uuid4()}")
    responses = await asyncio.gather(
        *(client.post("/v1/patients", json=body, headers=headers) for _ in range(5))
    )
    assert [r.status_code for r in responses] == [201] * 5, [r.text for r in responses]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 4
    assert await _patients_named(client, tenant, body["family_name"]) == list(ids)


async def test_replay_of_a_tenant_creation(client: httpx.AsyncClient) -> None:
    slug = f"idem-{uuid.uuid4().hex[:8]}"
    headers = {**bearer(["PLATFORM_ADMIN"]), "Idempotency-Key": f"k-{slug}"}
    body = {"name": "Idem Clinic", "slug": slug}
    first = await client.post("/v1/tenants", json=body, headers=headers)
    again = await client.post("/v1/tenants", json=body, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"


async def test_a_refusal_is_replayed_even_after_the_state_changes(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """The first response is the answer to the key: a SLOT_TAKEN stays SLOT_TAKEN on repeat,
    even once the slot is free again, and the repeat books nothing."""
    first = await booked(client, tenant, now() + dt.timedelta(days=2))
    start, end = when(first["start"]), when(first["end"])
    body = {
        "patient_id": first["patient_id"],
        "practitioner_id": first["practitioner_id"],
        "start": iso(start),
        "end": iso(end),
    }
    headers = _keyed(tenant, f"k-{uuid.uuid4()}")
    refused = await client.post("/v1/appointments", json=body, headers=headers)
    assert_problem(refused, 409, "SLOT_TAKEN")
    await act(client, tenant, first["id"], "cancel", {"reason": "patient called"})
    again = await client.post("/v1/appointments", json=body, headers=headers)
    assert_problem(again, 409, "SLOT_TAKEN")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == refused.json()
    fresh = await client.post("/v1/appointments", json=body, headers=tenant.as_role("RECEPTIONIST"))
    assert fresh.status_code == 201, fresh.text
