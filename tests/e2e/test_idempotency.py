"""Idempotency-Key: a repeated POST replays the first response; one command takes effect.
Keys are the caller's own: scoped by tenant and actor."""

import uuid

import httpx
from e2e_helpers import (
    assert_problem,
    create_patient,
    error_fields,
    list_all_patients,
    patient_body,
)
from idempotency_helpers import assert_executed, assert_replayed, keyed
from support import TenantFixture, bearer


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
    headers = keyed(tenant.as_role("RECEPTIONIST"))
    first = await client.post("/v1/patients", json=body, headers=headers)
    again = await client.post("/v1/patients", json=body, headers=headers)
    assert_executed(first)
    assert_replayed(again, first)
    assert await _patients_named(client, tenant, body["family_name"]) == [first.json()["id"]]


async def test_same_key_with_another_body_is_422(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    headers = keyed(tenant.as_role("RECEPTIONIST"))
    body = patient_body()
    assert (await client.post("/v1/patients", json=body, headers=headers)).status_code == 201
    other = patient_body()
    r = await client.post("/v1/patients", json=other, headers=headers)
    assert error_fields(r, "IDEMPOTENCY_KEY_REUSED") == {"Idempotency-Key"}
    assert await _patients_named(client, tenant, other["family_name"]) == []


async def test_keys_are_scoped_to_the_tenant(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    key = f"k-{uuid.uuid4()}"
    body = patient_body()
    mine = await client.post("/v1/patients", json=body, headers=keyed(tenant.as_role("NURSE"), key))
    theirs = await client.post(
        "/v1/patients", json=body, headers=keyed(other_tenant.as_role("NURSE"), key)
    )
    assert_executed(mine)
    assert_executed(theirs)
    assert mine.json()["id"] != theirs.json()["id"]


async def test_keys_are_scoped_to_the_caller(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """Two receptionists of one clinic who happen to pick the same key neither collide nor see
    each other's responses; each still gets their own replay."""
    key = f"k-{uuid.uuid4()}"
    ann = keyed(tenant.as_role("RECEPTIONIST", actor="ann"), key)
    bob = keyed(tenant.as_role("RECEPTIONIST", actor="bob"), key)
    ann_body, bob_body = patient_body(), patient_body()
    ann_first = await client.post("/v1/patients", json=ann_body, headers=ann)
    bob_first = await client.post("/v1/patients", json=bob_body, headers=bob)
    assert_executed(ann_first)
    assert_executed(bob_first)
    same_body = await client.post("/v1/patients", json=ann_body, headers=bob)
    assert_problem(same_body, 422, "IDEMPOTENCY_KEY_REUSED")
    assert_replayed(await client.post("/v1/patients", json=ann_body, headers=ann), ann_first)
    assert_replayed(await client.post("/v1/patients", json=bob_body, headers=bob), bob_first)


async def test_replay_of_a_tenant_creation(client: httpx.AsyncClient) -> None:
    slug = f"idem-{uuid.uuid4().hex[:8]}"
    headers = keyed(bearer(["PLATFORM_ADMIN"]), f"k-{slug}")
    body = {"name": "Idem Clinic", "slug": slug}
    first = await client.post("/v1/tenants", json=body, headers=headers)
    assert_executed(first)
    assert_replayed(await client.post("/v1/tenants", json=body, headers=headers), first)


async def test_platform_admins_keys_are_their_own(client: httpx.AsyncClient) -> None:
    """Platform admins share no tenant; their keys are still per admin."""
    key = f"k-{uuid.uuid4()}"
    for admin in ("ops-1", "ops-2"):
        slug = f"idem-{uuid.uuid4().hex[:8]}"
        r = await client.post(
            "/v1/tenants",
            json={"name": "Idem Clinic", "slug": slug},
            headers=keyed(bearer(["PLATFORM_ADMIN"], actor=admin), key),
        )
        assert_executed(r)
        assert r.json()["slug"] == slug


async def test_openapi_declares_the_key_on_every_command(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path, method in (
        ("/v1/patients", "post"),
        ("/v1/patients/{patient_id}", "patch"),
        ("/v1/visits/{visit_id}/note", "put"),
        ("/v1/invoices/{invoice_id}/lines/{line_id}", "delete"),
    ):
        names = [p["name"] for p in paths[path][method].get("parameters", [])]
        assert "Idempotency-Key" in names, (path, method)
    assert "Idempotency-Key" not in [
        p["name"] for p in paths["/v1/patients/{patient_id}"]["get"].get("parameters", [])
    ]
