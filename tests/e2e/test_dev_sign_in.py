"""The web app's development sign-in (GET/POST /v1/dev/sign-in) and CORS for its origin: both
exist with CARETRAIL_ENV=dev only."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from e2e_helpers import assert_problem, create_practitioner, error_fields
from support import FAKEPAY_SECRET, JWT_SECRET, TenantFixture, new_tenant

from backend.auth.principal import Role
from backend.auth.tokens import TokenVerifier
from backend.bootstrap import Resources, create_app
from backend.eventstore import EventStore
from backend.settings import Settings

WEB_ORIGIN = "http://127.0.0.1:3000"


@pytest.fixture(scope="module")
async def dev_client(
    owner_dsn: str, app_pool: asyncpg.Pool, store: EventStore, projector_pool: asyncpg.Pool
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        CARETRAIL_ENV="dev",
        CARETRAIL_JWT_SECRET=JWT_SECRET,
        CARETRAIL_PAYMENT_WEBHOOK_SECRETS={"fakepay": FAKEPAY_SECRET},
    )
    app = create_app(settings, Resources(owner_dsn, app_pool, store, projector_pool))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


async def _options(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/v1/dev/sign-in")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_lists_every_tenant_with_its_kind_and_practitioners_and_the_roles(
    dev_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    clinic = await new_tenant(client)
    hospital = await new_tenant(client, kind="hospital")
    grey = await create_practitioner(client, clinic, "Dr. Grey")
    options = await _options(dev_client)
    tenants = {t["id"]: t for t in options["tenants"]}
    assert tenants[str(clinic.id)]["slug"] == clinic.slug
    assert tenants[str(clinic.id)]["kind"] == "clinic"
    assert tenants[str(clinic.id)]["practitioners"] == [
        {"id": grey["id"], "name": "Dr. Grey", "specialty": "general"}
    ]
    assert tenants[str(hospital.id)]["kind"] == "hospital"
    assert tenants[str(hospital.id)]["practitioners"] == []
    assert "RECEPTIONIST" in options["roles"] and "DOCTOR" in options["roles"]
    assert "PLATFORM_ADMIN" not in options["roles"]


async def test_a_doctor_signs_in_as_one_of_the_tenants_practitioners(
    dev_client: httpx.AsyncClient, client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    grey = await create_practitioner(client, tenant)
    r = await dev_client.post(
        "/v1/dev/sign-in",
        json={"tenant_id": str(tenant.id), "role": "DOCTOR", "practitioner_id": grey["id"]},
    )
    assert r.status_code == 200, r.text
    principal = TokenVerifier(JWT_SECRET).verify(r.json()["token"])
    assert principal.actor == grey["id"]  # what sign-off compares with the visit's practitioner
    assert principal.tenant_id == tenant.id
    assert principal.roles == frozenset({Role.DOCTOR})
    mine = await client.get("/v1/tenant", headers={"Authorization": f"Bearer {r.json()['token']}"})
    assert mine.status_code == 200 and mine.json()["id"] == str(tenant.id)


async def test_other_roles_sign_in_as_a_development_actor(
    dev_client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await dev_client.post(
        "/v1/dev/sign-in", json={"tenant_id": str(tenant.id), "role": "FINANCE_BILLING"}
    )
    assert r.status_code == 200, r.text
    principal = TokenVerifier(JWT_SECRET).verify(r.json()["token"])
    assert principal.actor == "dev-finance-billing"
    assert principal.roles == frozenset({Role.FINANCE_BILLING})


async def test_refusals_name_the_field(
    dev_client: httpx.AsyncClient, client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    elsewhere = await create_practitioner(client, await new_tenant(client))
    for body, field in (
        ({"tenant_id": str(tenant.id), "role": "DOCTOR"}, "practitioner_id"),
        (
            {"tenant_id": str(tenant.id), "role": "DOCTOR", "practitioner_id": elsewhere["id"]},
            "practitioner_id",
        ),
        ({"tenant_id": str(uuid.uuid4()), "role": "NURSE"}, "tenant_id"),
        ({"tenant_id": str(tenant.id), "role": "PLATFORM_ADMIN"}, "role"),
    ):
        r = await dev_client.post("/v1/dev/sign-in", json=body)
        assert error_fields(r) == {field}, (body, r.text)


async def test_the_dev_sign_in_does_not_exist_outside_dev(
    client: httpx.AsyncClient, dev_client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    assert_problem(await client.get("/v1/dev/sign-in"), 404, "NOT_FOUND")
    posted = await client.post(
        "/v1/dev/sign-in", json={"tenant_id": str(tenant.id), "role": "RECEPTIONIST"}
    )
    assert_problem(posted, 404, "NOT_FOUND")
    assert not [p for p in (await client.get("/openapi.json")).json()["paths"] if "/dev/" in p]
    assert "/v1/dev/sign-in" in (await dev_client.get("/openapi.json")).json()["paths"]


async def test_the_web_apps_origin_may_call_the_api_in_dev(
    dev_client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    preflight = await dev_client.options(
        "/v1/patients/00000000-0000-0000-0000-000000000001",
        headers={
            "Origin": WEB_ORIGIN,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization,content-type,if-match",
        },
    )
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == WEB_ORIGIN
    read = await dev_client.get(
        "/v1/patients", headers={"Origin": WEB_ORIGIN, **tenant.as_role("RECEPTIONIST")}
    )
    assert read.headers["access-control-allow-origin"] == WEB_ORIGIN
    exposed = {h.strip().lower() for h in read.headers["access-control-expose-headers"].split(",")}
    assert {"etag", "x-projection-position"} <= exposed
    stranger = await dev_client.get(
        "/v1/patients", headers={"Origin": "http://evil.example", **tenant.as_role("RECEPTIONIST")}
    )
    assert "access-control-allow-origin" not in stranger.headers


async def test_no_origin_is_allowed_outside_dev_unless_configured(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    read = await client.get(
        "/v1/patients", headers={"Origin": WEB_ORIGIN, **tenant.as_role("RECEPTIONIST")}
    )
    assert read.status_code == 200
    assert "access-control-allow-origin" not in read.headers
    assert Settings(CARETRAIL_ENV="test", CARETRAIL_JWT_SECRET=JWT_SECRET).cors_origins == []
