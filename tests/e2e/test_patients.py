"""Registering, reading and changing a patient; optimistic concurrency with If-Match."""

import uuid

import httpx
from e2e_helpers import assert_problem, create_patient, error_fields, patient_body
from support import TenantFixture


async def test_register_returns_id_version_position_and_etag(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    body = patient_body(phone="+44 20 7946 0958", email="ada@example.org")
    r = await client.post("/v1/patients", json=body, headers=tenant.as_role("NURSE"))
    assert r.status_code == 201, r.text
    created = r.json()
    assert uuid.UUID(created["id"])
    assert created["version"] == 1
    assert isinstance(created["position"], int) and created["position"] > 0
    assert r.headers["etag"] == '"1"'
    for field in ("given_name", "family_name", "birth_date", "sex", "email"):
        assert created[field] == body[field]
    assert (created["phone"], created["phone_as_typed"]) == ("+442079460958", body["phone"])


async def test_positions_grow_with_each_command(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    first = await create_patient(client, tenant)
    second = await create_patient(client, tenant)
    assert second["position"] > first["position"]


async def test_get_returns_the_read_model_with_version(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    created = await create_patient(client, tenant, given_name="Grace", phone="(212) 555-0100")
    r = await client.get(
        f"/v1/patients/{created['id']}",
        params={"min_position": created["position"]},
        headers=tenant.as_role("DOCTOR"),
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["id"] == created["id"]
    assert (got["given_name"], got["family_name"]) == ("Grace", created["family_name"])
    assert (got["birth_date"], got["sex"]) == ("1815-12-10", "female")
    assert (got["phone"], got["phone_as_typed"]) == ("+12125550100", "(212) 555-0100")
    assert got["version"] == 1
    assert r.headers["etag"] == '"1"'


async def test_patch_changes_fields_and_bumps_version(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    headers = tenant.as_role("RECEPTIONIST")
    created = await create_patient(client, tenant)
    url = f"/v1/patients/{created['id']}"
    r = await client.patch(
        url, json={"family_name": "King", "phone": "+1 212 555 0199"}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    assert r.json()["position"] > created["position"]
    assert r.headers["etag"] == '"2"'
    after = {"min_position": r.json()["position"]}
    got = (await client.get(url, params=after, headers=headers)).json()
    assert (got["family_name"], got["phone"], got["version"]) == ("King", "+12125550199", 2)
    assert got["given_name"] == "Ada"


async def test_patch_without_a_real_change_keeps_the_version(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    created = await create_patient(client, tenant)
    r = await client.patch(
        f"/v1/patients/{created['id']}",
        json={"given_name": "Ada"},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1


async def test_stale_if_match_is_412_and_changes_nothing(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    headers = tenant.as_role("RECEPTIONIST")
    created = await create_patient(client, tenant)
    url = f"/v1/patients/{created['id']}"
    changed = await client.patch(url, json={"given_name": "Ann"}, headers=headers)
    assert changed.status_code == 200
    stale = {**headers, "If-Match": '"1"'}
    r = await client.patch(url, json={"given_name": "Bea"}, headers=stale)
    assert_problem(r, 412, "VERSION_CONFLICT")
    marker = await create_patient(client, tenant)  # a later write: any earlier one is applied
    after = {"min_position": marker["position"]}
    got = (await client.get(url, params=after, headers=headers)).json()
    assert (got["given_name"], got["version"]) == ("Ann", 2)


async def test_current_if_match_applies(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    headers = tenant.as_role("RECEPTIONIST")
    created = await create_patient(client, tenant)
    url = f"/v1/patients/{created['id']}"
    r = await client.patch(url, json={"sex": "other"}, headers={**headers, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    r = await client.patch(url, json={"sex": "unknown"}, headers={**headers, "If-Match": '"2"'})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 3
    after = {"min_position": r.json()["position"]}
    assert (await client.get(url, params=after, headers=headers)).json()["sex"] == "unknown"


async def test_patch_may_not_remove_a_required_field(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    created = await create_patient(client, tenant)
    r = await client.patch(
        f"/v1/patients/{created['id']}",
        json={"family_name": None},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert error_fields(r) == {"family_name"}


async def test_unknown_patient_is_404(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    headers = tenant.as_role("RECEPTIONIST")
    missing = uuid.uuid4()
    assert_problem(await client.get(f"/v1/patients/{missing}", headers=headers), 404, "NOT_FOUND")
    r = await client.patch(f"/v1/patients/{missing}", json={"given_name": "X"}, headers=headers)
    assert_problem(r, 404, "NOT_FOUND")
