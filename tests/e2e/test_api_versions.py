"""Dated API versions: a key speaks the version it was pinned to, a token the stable
contract's (2026-11-01), `Caretrail-Version` overrides either per request, every response names
its version, and the one breaking change so far (2026-12-01: a patient's name is an object) is
served both ways from handlers that speak the newest shape only."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from e2e_helpers import assert_problem, error_fields
from fastapi import FastAPI
from partner_helpers import make_key, with_key
from support import TenantFixture

from backend.api.versioning import VersionedRoute
from backend.api.versions import CURRENT, TOKEN_DEFAULT, VERSIONS
from backend.auth.scopes import APPOINTMENTS_READ, PATIENTS_READ, PATIENTS_WRITE
from backend.catalog import ROUTERS, VERSION_CHANGES

OLD, NEW = "2026-11-01", "2026-12-01"
SCOPES = [PATIENTS_READ, PATIENTS_WRITE, APPOINTMENTS_READ]


def old_body(given: str = "Ada") -> dict[str, Any]:
    family = f"Byron-{uuid.uuid4().hex[:6]}"
    return {"given_name": given, "family_name": family, "birth_date": "1990-01-01", "sex": "female"}


def new_body(given: str = "Ada") -> dict[str, Any]:
    family = f"Byron-{uuid.uuid4().hex[:6]}"
    return {"name": {"given": given, "family": family}, "birth_date": "1990-01-01", "sex": "female"}


def speaks_old(patient: dict[str, Any]) -> bool:
    return "name" not in patient and {"given_name", "family_name"} <= set(patient)


def speaks_new(patient: dict[str, Any]) -> bool:
    return set(patient["name"]) == {"given", "family"} and "given_name" not in patient


async def test_a_key_speaks_the_version_it_was_pinned_to_both_ways(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    old = with_key(await make_key(client, tenant, SCOPES, api_version=OLD))
    new_made = await make_key(client, tenant, SCOPES, api_version=NEW)
    assert new_made["api_version"] == CURRENT == NEW
    new = with_key(new_made)
    unnamed = await make_key(client, tenant, SCOPES)  # the contract's shapes unless asked
    assert unnamed["api_version"] == OLD

    r = await client.post("/v1/patients", json=old_body("Ada"), headers=old)
    assert r.status_code == 201, r.text
    assert r.headers["Caretrail-Version"] == OLD
    by_old = r.json()
    assert speaks_old(by_old) and by_old["given_name"] == "Ada"
    r = await client.post("/v1/patients", json=new_body("Grace"), headers=new)
    assert r.status_code == 201, r.text
    assert r.headers["Caretrail-Version"] == NEW
    by_new = r.json()
    assert speaks_new(by_new) and by_new["name"]["given"] == "Grace"

    for patient in (by_old, by_new):
        wait = {"min_position": patient["position"]}
        one = await client.get(f"/v1/patients/{patient['id']}", params=wait, headers=old)
        assert speaks_old(one.json()) and one.headers["Caretrail-Version"] == OLD
        one = await client.get(f"/v1/patients/{patient['id']}", params=wait, headers=new)
        assert speaks_new(one.json())
    for key, speaks in ((old, speaks_old), (new, speaks_new)):
        listed = (await client.get("/v1/patients", headers=key)).json()["items"]
        assert listed and all(speaks(p) for p in listed)

    r = await client.patch(
        f"/v1/patients/{by_new['id']}", json={"given_name": "Gracie"}, headers=old
    )
    assert r.status_code == 200, r.text
    assert (r.json()["given_name"], r.json()["family_name"]) == (
        "Gracie",
        by_new["name"]["family"],
    )
    r = await client.patch(
        f"/v1/patients/{by_old['id']}", json={"name": {"family": "Lovelace"}}, headers=new
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == {"given": "Ada", "family": "Lovelace"}


async def test_each_version_refuses_the_others_shape_and_names_its_own_fields(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    old = with_key(await make_key(client, tenant, SCOPES, api_version=OLD))
    new = with_key(await make_key(client, tenant, SCOPES, api_version=NEW))
    r = await client.post("/v1/patients", json=new_body(), headers=old)
    assert error_fields(r) == {"name"}, r.text
    r = await client.post("/v1/patients", json=old_body(), headers=new)
    assert {"given_name", "family_name", "name"} <= error_fields(r), r.text

    r = await client.post("/v1/patients", json=old_body(given=""), headers=old)
    assert error_fields(r) == {"given_name"}, r.text
    r = await client.post("/v1/patients", json=new_body(given=""), headers=new)
    assert error_fields(r) == {"name.given"}, r.text
    made = (await client.post("/v1/patients", json=new_body(), headers=new)).json()
    r = await client.patch(f"/v1/patients/{made['id']}", json={"family_name": None}, headers=old)
    assert error_fields(r) == {"family_name"}, r.text
    r = await client.patch(
        f"/v1/patients/{made['id']}", json={"name": {"family": None}}, headers=new
    )
    assert error_fields(r) == {"name.family"}, r.text


async def test_the_header_overrides_the_pin_and_tokens_speak_the_contracts_version(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    old = with_key(await make_key(client, tenant, SCOPES, api_version=OLD))
    new = with_key(await make_key(client, tenant, SCOPES, api_version=NEW))
    staff = tenant.as_role("RECEPTIONIST")
    assert TOKEN_DEFAULT == OLD

    r = await client.post("/v1/patients", json=old_body(), headers=staff)
    assert r.status_code == 201 and speaks_old(r.json()), r.text
    assert r.headers["Caretrail-Version"] == OLD
    for headers, version, body, speaks in (
        ({**old, "Caretrail-Version": NEW}, NEW, new_body(), speaks_new),
        ({**new, "Caretrail-Version": OLD}, OLD, old_body(), speaks_old),
        ({**staff, "Caretrail-Version": NEW}, NEW, new_body(), speaks_new),
        ({**staff, "Caretrail-Version": OLD}, OLD, old_body(), speaks_old),
    ):
        r = await client.post("/v1/patients", json=body, headers=headers)
        assert r.status_code == 201 and speaks(r.json()), (headers, r.text)
        assert r.headers["Caretrail-Version"] == version


async def test_every_response_names_its_version_and_an_unknown_one_is_refused(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    old = with_key(await make_key(client, tenant, SCOPES, api_version=OLD))
    r = await client.get("/v1/appointments", headers=old)
    assert (r.status_code, r.headers["Caretrail-Version"]) == (200, OLD)
    r = await client.get("/v1/appointments", headers={**old, "Caretrail-Version": NEW})
    assert r.headers["Caretrail-Version"] == NEW
    r = await client.get("/v1/appointments", headers=tenant.as_role("NURSE"))
    assert r.headers["Caretrail-Version"] == TOKEN_DEFAULT
    assert (await client.get("/health")).headers["Caretrail-Version"] == TOKEN_DEFAULT

    for unknown in ("2025-01-01", "latest", ""):
        for path in ("/v1/patients", "/v1/appointments"):
            r = await client.get(path, headers={**old, "Caretrail-Version": unknown})
            assert_problem(r, 400, "UNKNOWN_API_VERSION")


async def test_a_replayed_command_answers_in_the_callers_version(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """The stored response is the handler's (newest) shape, downgraded at the edge again."""
    old = with_key(await make_key(client, tenant, SCOPES, api_version=OLD))
    headers = {**old, "Idempotency-Key": f"v-{uuid.uuid4()}"}
    body = old_body()
    first = await client.post("/v1/patients", json=body, headers=headers)
    again = await client.post("/v1/patients", json=body, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert speaks_old(again.json()) and again.json() == first.json()


async def test_the_document_describes_the_contracts_version_and_every_changed_route_is_versioned(
    app: FastAPI,
) -> None:
    assert list(VERSIONS) == sorted(VERSIONS) and VERSIONS[-1] == CURRENT
    versioned = {
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, VersionedRoute)
        for method in route.methods
    }
    for change in VERSION_CHANGES:
        assert change.version in VERSIONS
        assert change.routes() <= versioned, change.summary

    schemas = app.openapi()["components"]["schemas"]
    assert {"given_name", "family_name"} <= set(schemas["NewPatient"]["properties"])
    assert "name" not in schemas["NewPatient"]["properties"]
    assert {"given_name", "family_name"} <= set(schemas["NewPatient"]["required"])
    assert {"given_name", "family_name"} <= set(schemas["PatientChanges"]["properties"])
