"""GET /v1/patients: search by name and phone, cursor pagination."""

import uuid

import httpx
from e2e_helpers import create_patient, list_all_patients
from support import TenantFixture


async def test_search_by_name_finds_only_matches(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    marker = uuid.uuid4().hex[:8]
    hit = await create_patient(client, tenant, family_name=f"Hopper{marker}")
    await create_patient(client, tenant, family_name="Someone Else")
    headers = tenant.as_role("RECEPTIONIST")
    for q in (f"hopper{marker}", f"Ada HOPPER{marker}", marker):
        r = await client.get("/v1/patients", params={"q": q}, headers=headers)
        assert r.status_code == 200, r.text
        assert [p["id"] for p in r.json()["items"]] == [hit["id"]], q


async def test_search_by_phone_ignores_formatting(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    hit = await create_patient(client, tenant, phone="+1 (555) 867-5309")
    await create_patient(client, tenant, phone="+1 (555) 123-4567")
    headers = tenant.as_role("RECEPTIONIST")
    for q in ("8675309", "555-867-5309", "+15558675309"):
        r = await client.get("/v1/patients", params={"q": q}, headers=headers)
        assert [p["id"] for p in r.json()["items"]] == [hit["id"]], q


async def test_search_without_match_is_empty(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await create_patient(client, tenant)
    r = await client.get(
        "/v1/patients", params={"q": "zzz-nobody"}, headers=tenant.as_role("RECEPTIONIST")
    )
    assert r.json() == {"items": [], "next_cursor": None}


async def test_cursor_pagination_visits_every_patient_once(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    created = {(await create_patient(client, tenant))["id"] for _ in range(7)}
    headers = tenant.as_role("RECEPTIONIST")
    first = (await client.get("/v1/patients", params={"limit": 3}, headers=headers)).json()
    assert len(first["items"]) == 3
    assert first["next_cursor"]
    seen = await list_all_patients(client, headers, limit=3)
    ids = [p["id"] for p in seen]
    assert len(ids) == len(set(ids)) == 7
    assert set(ids) == created
    assert all(p["version"] == 1 for p in seen)


async def test_last_page_has_no_cursor(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    for _ in range(4):
        await create_patient(client, tenant)
    headers = tenant.as_role("RECEPTIONIST")
    page = (await client.get("/v1/patients", params={"limit": 4}, headers=headers)).json()
    assert len(page["items"]) == 4
    assert page["next_cursor"] is None


async def test_pagination_combines_with_search(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    marker = uuid.uuid4().hex[:8]
    wanted = {(await create_patient(client, tenant, given_name=marker))["id"] for _ in range(5)}
    for _ in range(3):
        await create_patient(client, tenant)
    found = await list_all_patients(client, tenant.as_role("DOCTOR"), q=marker, limit=2)
    assert [p["id"] for p in found] == sorted(wanted, key=uuid.UUID)


async def test_bad_limit_and_cursor_are_422(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    headers = tenant.as_role("RECEPTIONIST")
    for params in ({"limit": 0}, {"limit": 201}, {"cursor": "!!not-ours!!"}):
        r = await client.get("/v1/patients", params=params, headers=headers)
        assert r.status_code == 422, params
        assert r.json()["code"] == "VALIDATION_ERROR"
