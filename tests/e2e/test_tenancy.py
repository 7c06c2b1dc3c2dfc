"""Tenants (platform admin) and practitioners (clinic admin)."""

import uuid

import httpx
from e2e_helpers import assert_problem, error_fields
from support import TenantFixture, bearer

ADMIN = bearer(["PLATFORM_ADMIN"], actor="platform-ops")


async def test_create_tenant_returns_id_name_slug(client: httpx.AsyncClient) -> None:
    slug = f"north-{uuid.uuid4().hex[:8]}"
    r = await client.post("/v1/tenants", json={"name": "North Clinic", "slug": slug}, headers=ADMIN)
    assert r.status_code == 201, r.text
    body = r.json()
    assert uuid.UUID(body["id"])
    assert (body["name"], body["slug"]) == ("North Clinic", slug)
    assert body["version"] == 1
    assert isinstance(body["position"], int)
    assert r.headers["etag"] == '"1"'


async def test_duplicate_slug_is_409(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    r = await client.post("/v1/tenants", json={"name": "Copy", "slug": tenant.slug}, headers=ADMIN)
    assert_problem(r, 409, "TENANT_EXISTS")


async def test_bad_slug_is_422(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/tenants", json={"name": "X", "slug": "Not A Slug"}, headers=ADMIN)
    assert error_fields(r) == {"slug"}


async def test_clinic_admin_registers_a_practitioner(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    headers = tenant.as_role("CLINIC_ADMIN")
    r = await client.post(
        "/v1/practitioners", json={"name": "Dr. Grey", "specialty": "cardiology"}, headers=headers
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["name"], body["specialty"], body["version"]) == ("Dr. Grey", "cardiology", 1)
    assert r.headers["etag"] == '"1"'
    after = {"min_position": body["position"]}
    got = await client.get(f"/v1/practitioners/{body['id']}", params=after, headers=headers)
    assert got.status_code == 200
    assert got.json()["name"] == "Dr. Grey"


async def test_practitioner_without_name_is_422(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.post(
        "/v1/practitioners", json={"specialty": "x"}, headers=tenant.as_role("CLINIC_ADMIN")
    )
    assert error_fields(r) == {"name"}


async def test_practitioner_of_another_tenant_is_not_found(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    r = await client.post(
        "/v1/practitioners", json={"name": "Dr. A"}, headers=tenant.as_role("CLINIC_ADMIN")
    )
    pid, after = r.json()["id"], {"min_position": r.json()["position"]}
    got = await client.get(
        f"/v1/practitioners/{pid}", params=after, headers=other_tenant.as_role("DOCTOR")
    )
    assert_problem(got, 404, "NOT_FOUND")
