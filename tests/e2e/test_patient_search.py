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
    last = await create_patient(client, tenant, family_name="Someone Else")
    headers = tenant.as_role("RECEPTIONIST")
    for q in (f"hopper{marker}", f"Ada HOPPER{marker}", marker):
        params = {"q": q, "min_position": last["position"]}
        r = await client.get("/v1/patients", params=params, headers=headers)
        assert r.status_code == 200, r.text
        assert [p["id"] for p in r.json()["items"]] == [hit["id"]], q


async def test_search_by_phone_ignores_formatting(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    hit = await create_patient(client, tenant, phone="+1 (212) 867-5309")
    last = await create_patient(client, tenant, phone="+1 (212) 555-4567")
    headers = tenant.as_role("RECEPTIONIST")
    for q in ("8675309", "212-867-5309", "+12128675309", "(212) 867 5309", "+1 212 867 5309"):
        params = {"q": q, "min_position": last["position"]}
        r = await client.get("/v1/patients", params=params, headers=headers)
        assert [p["id"] for p in r.json()["items"]] == [hit["id"]], q


async def test_search_by_name_ignores_accents_case_punctuation_and_order(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    marker = uuid.uuid4().hex[:6]
    garcia = await create_patient(client, tenant, given_name="María", family_name=f"García{marker}")
    oneil = await create_patient(client, tenant, given_name="Dara", family_name=f"O'Neil{marker}")
    last = await create_patient(client, tenant, family_name="Someone Else")
    headers = tenant.as_role("RECEPTIONIST")
    cases = {
        f"Garcia{marker}": garcia,
        f"GARCÍA{marker}": garcia,
        f"maria garcia{marker}": garcia,
        f"García{marker}, María": garcia,
        f"oneil{marker}": oneil,
        f"O\u2019NEIL{marker}": oneil,
        f"dara o-neil{marker}": oneil,
    }
    for q, wanted in cases.items():
        params = {"q": q, "min_position": last["position"]}
        r = await client.get("/v1/patients", params=params, headers=headers)
        assert [p["id"] for p in r.json()["items"]] == [wanted["id"]], q
    params = {"q": "'", "min_position": last["position"]}
    r = await client.get("/v1/patients", params=params, headers=headers)
    assert r.json()["items"] == []  # nothing to look for is no match, not every patient


async def test_search_without_match_is_empty(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    last = await create_patient(client, tenant)
    r = await client.get(
        "/v1/patients",
        params={"q": "zzz-nobody", "min_position": last["position"]},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert r.json() == {"items": [], "next_cursor": None}


async def test_cursor_pagination_visits_every_patient_once(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patients = [await create_patient(client, tenant) for _ in range(7)]
    created, after = {p["id"] for p in patients}, patients[-1]["position"]
    headers = tenant.as_role("RECEPTIONIST")
    params = {"limit": 3, "min_position": after}
    first = (await client.get("/v1/patients", params=params, headers=headers)).json()
    assert len(first["items"]) == 3
    assert first["next_cursor"]
    seen = await list_all_patients(client, headers, limit=3, after=after)
    ids = [p["id"] for p in seen]
    assert len(ids) == len(set(ids)) == 7
    assert set(ids) == created
    assert all(p["version"] == 1 for p in seen)


async def test_last_page_has_no_cursor(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    after = [await create_patient(client, tenant) for _ in range(4)][-1]["position"]
    headers = tenant.as_role("RECEPTIONIST")
    params = {"limit": 4, "min_position": after}
    page = (await client.get("/v1/patients", params=params, headers=headers)).json()
    assert len(page["items"]) == 4
    assert page["next_cursor"] is None


async def test_pagination_combines_with_search(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    marker = uuid.uuid4().hex[:8]
    wanted = {(await create_patient(client, tenant, given_name=marker))["id"] for _ in range(5)}
    after = [await create_patient(client, tenant) for _ in range(3)][-1]["position"]
    found = await list_all_patients(
        client, tenant.as_role("DOCTOR"), q=marker, limit=2, after=after
    )
    assert [p["id"] for p in found] == sorted(wanted, key=uuid.UUID)


async def test_bad_limit_and_cursor_are_422(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    headers = tenant.as_role("RECEPTIONIST")
    for params in ({"limit": 0}, {"limit": 501}, {"cursor": "!!not-ours!!"}):
        r = await client.get("/v1/patients", params=params, headers=headers)
        assert r.status_code == 422, params
        assert r.json()["code"] == "VALIDATION_ERROR"
