"""Another tenant's resources do not exist for you: 404, exactly as for a missing one."""

import uuid

import httpx
from e2e_helpers import assert_problem, create_patient, list_all_patients
from support import TenantFixture


def _without_id(body: dict[str, object], resource_id: str) -> dict[str, object]:
    return {
        k: (v.replace(resource_id, "<id>") if isinstance(v, str) else v) for k, v in body.items()
    }


async def test_other_tenants_patient_looks_like_a_missing_one(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    theirs = other_tenant.as_role("CLINIC_ADMIN")
    after = {"min_position": patient["position"]}  # not mere lag: the read model has it
    foreign = await client.get(f"/v1/patients/{patient['id']}", params=after, headers=theirs)
    missing_id = str(uuid.uuid4())
    missing = await client.get(f"/v1/patients/{missing_id}", params=after, headers=theirs)
    assert_problem(foreign, 404, "NOT_FOUND")
    assert_problem(missing, 404, "NOT_FOUND")
    assert _without_id(foreign.json(), patient["id"]) == _without_id(missing.json(), missing_id)
    assert foreign.headers["content-type"] == missing.headers["content-type"]


async def test_other_tenant_cannot_change_a_patient(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    url = f"/v1/patients/{patient['id']}"
    r = await client.patch(url, json={"given_name": "Eve"}, headers=other_tenant.as_role("DOCTOR"))
    assert_problem(r, 404, "NOT_FOUND")
    after = {"min_position": patient["position"]}
    got = (await client.get(url, params=after, headers=tenant.as_role("DOCTOR"))).json()
    assert (got["given_name"], got["version"]) == ("Ada", 1)


async def test_lists_show_only_own_patients(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    mine = [await create_patient(client, tenant) for _ in range(2)]
    theirs = [await create_patient(client, other_tenant) for _ in range(2)]
    after = theirs[-1]["position"]
    seen_by_other = await list_all_patients(client, other_tenant.as_role("NURSE"), after=after)
    assert {p["id"] for p in seen_by_other} == {p["id"] for p in theirs}
    seen_by_me = await list_all_patients(client, tenant.as_role("NURSE"), after=after)
    assert {p["id"] for p in seen_by_me} == {p["id"] for p in mine}


async def test_other_tenants_stream_is_not_found(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    auditor = other_tenant.as_role("AUDITOR")
    for suffix in ("", "/events"):
        r = await client.get(f"/v1/streams/patient/{patient['id']}{suffix}", headers=auditor)
        assert_problem(r, 404, "NOT_FOUND")
