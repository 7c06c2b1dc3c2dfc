"""Authentication (401) and authorisation (403) at the edge."""

import uuid

import httpx
import pytest
from e2e_helpers import assert_problem, patient_body
from support import JWT_SECRET, TenantFixture, bearer

from backend.auth.tokens import issue_token


def _token(secret: str, tenant_id: uuid.UUID, ttl_seconds: int = 3600) -> dict[str, str]:
    token = issue_token(
        secret,
        actor="mallory",
        roles=["RECEPTIONIST"],
        tenant_id=tenant_id,
        ttl_seconds=ttl_seconds,
    )
    return {"Authorization": f"Bearer {token}"}


async def test_missing_token_is_401_problem(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/patients")
    assert_problem(r, 401, "UNAUTHENTICATED")
    assert r.headers["www-authenticate"].lower().startswith("bearer")


async def test_unauthenticated_request_is_refused_before_its_body_is_validated(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post("/v1/patients", json={"nonsense": True})
    assert_problem(r, 401, "UNAUTHENTICATED")


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Token abc"],
)
async def test_malformed_credentials_are_401(client: httpx.AsyncClient, authorization: str) -> None:
    r = await client.get("/v1/patients", headers={"Authorization": authorization})
    assert_problem(r, 401, "UNAUTHENTICATED")


async def test_token_signed_with_another_key_is_401(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    headers = _token("another-secret-0123456789abcdef01234567", tenant.id)
    assert_problem(await client.get("/v1/patients", headers=headers), 401, "UNAUTHENTICATED")


async def test_expired_token_is_401(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    headers = _token(JWT_SECRET, tenant.id, ttl_seconds=-60)
    assert_problem(await client.get("/v1/patients", headers=headers), 401, "UNAUTHENTICATED")


async def test_token_with_unknown_role_is_401(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.get("/v1/patients", headers=tenant.as_role("JANITOR"))
    assert_problem(r, 401, "UNAUTHENTICATED")


async def test_receptionist_may_not_register_a_practitioner(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.post(
        "/v1/practitioners", json={"name": "Dr. No"}, headers=tenant.as_role("RECEPTIONIST")
    )
    assert_problem(r, 403, "FORBIDDEN")


async def test_doctor_may_not_create_a_tenant(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.post(
        "/v1/tenants", json={"name": "Rogue", "slug": "rogue"}, headers=tenant.as_role("DOCTOR")
    )
    assert_problem(r, 403, "FORBIDDEN")


async def test_auditor_reads_but_may_not_register_patients(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    headers = tenant.as_role("AUDITOR")
    assert (await client.get("/v1/patients", headers=headers)).status_code == 200
    r = await client.post("/v1/patients", json=patient_body(), headers=headers)
    assert_problem(r, 403, "FORBIDDEN")


async def test_tenantless_token_on_a_tenant_endpoint_is_403(client: httpx.AsyncClient) -> None:
    headers = bearer(["RECEPTIONIST"])
    for r in (
        await client.get("/v1/patients", headers=headers),
        await client.post("/v1/patients", json=patient_body(), headers=headers),
    ):
        assert r.status_code == 403, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] in {"FORBIDDEN", "TENANT_REQUIRED"}


async def test_platform_admin_without_tenant_cannot_read_patients(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get(f"/v1/patients/{uuid.uuid4()}", headers=bearer(["PLATFORM_ADMIN"]))
    assert_problem(r, 403, "FORBIDDEN")
