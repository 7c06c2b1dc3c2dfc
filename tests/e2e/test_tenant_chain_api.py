"""`GET /v1/audit/verify`: the tenant's keyed chain over a period, for auditors (the tamperings
themselves: tests/integration/test_tenant_chain.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from e2e_helpers import assert_problem, create_patient, iso, now
from support import TenantFixture


async def _verified_through(
    client: httpx.AsyncClient, tenant: TenantFixture, position: int, **params: str
) -> dict[str, Any]:
    """The report once the chainer has linked `position` (it follows the store in the
    background)."""
    for _ in range(200):
        r = await client.get("/v1/audit/verify", params=params, headers=tenant.as_role("AUDITOR"))
        assert r.status_code == 200, r.text
        if r.json()["chained_through"] >= position:
            return dict(r.json())
        await asyncio.sleep(0.05)
    raise AssertionError(f"the chainer did not reach {position}")


async def test_a_tenants_chain_verifies_over_a_period(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    start = now()
    patient = await create_patient(client, tenant)
    r = await client.patch(
        f"/v1/patients/{patient['id']}",
        json={"phone": "+49 30 555 0199"},
        headers=tenant.as_role("NURSE"),
    )
    assert r.status_code == 200, r.text
    body = await _verified_through(client, tenant, r.json()["position"], **{"from": iso(start)})
    assert body["valid"] is True, body
    assert body["first_broken"] is None and body["unchained"] == []
    assert body["links"] == 2
    assert body["tenant_id"] == str(tenant.id)
    whole = await _verified_through(client, tenant, r.json()["position"])
    assert whole["valid"] is True and whole["links"] >= 2


async def test_verify_is_for_auditors_and_takes_an_ordered_period(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    for role in ("NURSE", "CLINIC_ADMIN", "DOCTOR"):
        r = await client.get("/v1/audit/verify", headers=tenant.as_role(role))
        assert_problem(r, 403, "FORBIDDEN")
    moment = iso(now())
    r = await client.get(
        "/v1/audit/verify",
        params={"from": moment, "to": moment},
        headers=tenant.as_role("AUDITOR"),
    )
    assert_problem(r, 422, "VALIDATION_ERROR")
