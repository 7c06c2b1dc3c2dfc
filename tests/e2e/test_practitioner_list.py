"""GET /v1/practitioners: the tenant's practitioners by name, paged (the front desk's columns)."""

from __future__ import annotations

import httpx
from e2e_helpers import assert_problem, create_practitioner, error_fields
from support import TenantFixture, new_tenant


async def test_lists_the_tenants_practitioners_by_name_in_pages(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    names = ["Dr. Young", "Dr. Abel", "Dr. Moss"]
    made = [await create_practitioner(client, tenant, name) for name in names]
    await create_practitioner(client, await new_tenant(client), "Dr. Elsewhere")
    desk = tenant.as_role("RECEPTIONIST")
    everyone = await client.get(
        "/v1/practitioners", params={"min_position": made[-1]["position"]}, headers=desk
    )
    assert everyone.status_code == 200, everyone.text
    assert [p["name"] for p in everyone.json()["items"]] == sorted(names)
    assert everyone.json()["next_cursor"] is None
    assert "x-projection-position" in everyone.headers

    seen, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/practitioners", params=params, headers=desk)).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [p["id"] for p in everyone.json()["items"]]


async def test_refusals(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    desk = tenant.as_role("RECEPTIONIST")
    bad = await client.get("/v1/practitioners", params={"cursor": "%%%"}, headers=desk)
    assert error_fields(bad) == {"cursor"}
    too_many = await client.get("/v1/practitioners", params={"limit": 501}, headers=desk)
    assert error_fields(too_many) == {"limit"}
    assert_problem(
        await client.get("/v1/practitioners", headers=tenant.as_role("PATIENT")), 403, "FORBIDDEN"
    )
