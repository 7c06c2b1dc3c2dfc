"""The tenant's policy: read by its staff, changed by its clinic admin only."""

import datetime as dt
import uuid

import httpx
from e2e_helpers import assert_problem, error_fields
from support import TenantFixture, bearer, new_tenant

from backend.eventstore import NO_STREAM, EventStore, NewEvent, StreamAppend


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


async def test_a_tenant_stored_in_the_old_shape_reads_in_the_current_one(
    client: httpx.AsyncClient, store: EventStore
) -> None:
    """TenantCreated v1 as an earlier release stored it: no kind, no currency."""
    tenant_id = uuid.uuid4()
    v1 = {
        "tenant_id": str(tenant_id),
        "name": "Old Clinic",
        "slug": f"old-{tenant_id.hex[:8]}",
        "checkin_opens_before_min": 15,
        "checkin_closes_after_min": 60,
    }
    created = NewEvent(uuid.uuid4(), "TenantCreated", v1, dt.datetime.now(dt.UTC), {}, 1)
    await store.append(tenant_id, [StreamAppend("tenant", tenant_id, NO_STREAM, (created,))])
    r = await client.get("/v1/tenant", headers=bearer(["CLINIC_ADMIN"], tenant_id))
    assert r.status_code == 200, r.text
    policy = r.json()["policy"]
    assert (policy["kind"], policy["currency"], policy["checkin_opens_before_min"]) == (
        "clinic",
        "USD",
        15,
    )
    events = await client.get(
        f"/v1/streams/tenant/{tenant_id}/events", headers=bearer(["AUDITOR"], tenant_id)
    )
    assert events.json()["events"][0]["schema_version"] == 1  # stored as it was, never rewritten
