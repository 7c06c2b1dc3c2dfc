"""The tenant's policy: read by its staff, changed by its clinic admin only."""

import httpx
from e2e_helpers import assert_problem, error_fields
from support import TenantFixture, new_tenant


async def test_staff_read_their_tenant_with_its_default_policy(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.get("/v1/tenant", headers=tenant.as_role("RECEPTIONIST"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["id"], body["slug"]) == (str(tenant.id), tenant.slug)
    assert body["policy"]["currency"] == "USD"
    assert body["policy"]["late_charting_max_hours"] == 72
    assert body["policy"]["quiet_hours_start"] == "21:00"


async def test_a_hospital_is_created_with_its_kind_and_currency(client: httpx.AsyncClient) -> None:
    hospital = await new_tenant(client, kind="hospital", currency="EUR")
    r = await client.get("/v1/tenant", headers=hospital.as_role("NURSE"))
    assert (r.json()["policy"]["kind"], r.json()["policy"]["currency"]) == ("hospital", "EUR")


async def test_the_clinic_admin_changes_the_policy(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    admin = tenant.as_role("CLINIC_ADMIN")
    changes = {"timezone": "Europe/Berlin", "discount_threshold_percent": "15"}
    r = await client.patch("/v1/tenant/policy", json=changes, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["policy"]["timezone"] == "Europe/Berlin"
    assert r.json()["version"] == 2
    again = await client.patch("/v1/tenant/policy", json=changes, headers=admin)
    assert again.json()["version"] == 2  # nothing changed, nothing recorded
    read = await client.get("/v1/tenant", headers=admin)
    assert read.json()["policy"]["discount_threshold_percent"] == "15"


async def test_a_bad_policy_value_is_422_naming_the_field(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.patch(
        "/v1/tenant/policy",
        json={"timezone": "Nowhere/Land"},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert_problem(r, 422, "VALIDATION_ERROR")
    assert error_fields(r) == {"timezone"}


async def test_only_the_clinic_admin_changes_the_policy(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.patch(
        "/v1/tenant/policy", json={"currency": "EUR"}, headers=tenant.as_role("DOCTOR")
    )
    assert_problem(r, 403, "FORBIDDEN")
