"""Partner API keys: made by a clinic admin and shown once, listed without secrets, acting in
their tenant within their scopes as themselves, rotated with an overlap, revoked at once."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import httpx
from e2e_helpers import assert_problem, create_patient, error_fields, now
from partner_helpers import make_key, with_key
from support import TenantFixture

from backend.api.versions import TOKEN_DEFAULT
from backend.auth.scopes import PATIENTS_READ, PATIENTS_WRITE


async def test_a_key_is_shown_once_and_listed_without_its_secret(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    admin = tenant.as_role("CLINIC_ADMIN")
    body = {"name": "pharmacy", "scopes": [PATIENTS_READ]}
    idempotent = {**admin, "Idempotency-Key": f"key-{uuid.uuid4()}"}
    r = await client.post("/v1/api-keys", json=body, headers=idempotent)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["key"].startswith(made["prefix"]) and made["key"].startswith("ct_live_")
    assert (made["scopes"], made["state"], made["api_version"]) == (
        [PATIENTS_READ],
        "active",
        TOKEN_DEFAULT,
    )
    replayed = await client.post("/v1/api-keys", json=body, headers=idempotent)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert "key" not in replayed.json() and replayed.json()["id"] == made["id"]

    listed = (await client.get("/v1/api-keys", headers=admin)).json()["items"]
    [key] = [k for k in listed if k["id"] == made["id"]]
    assert made["key"] not in str(listed) and "key" not in key
    assert (key["prefix"], key["state"], key["last_used_at"]) == (made["prefix"], "active", None)
    assert (await client.get("/v1/patients", headers=with_key(made))).status_code == 200
    listed = (await client.get("/v1/api-keys", headers=admin)).json()["items"]
    assert next(k for k in listed if k["id"] == made["id"])["last_used_at"] is not None

    for role in ("DOCTOR", "RECEPTIONIST", "AUDITOR"):
        r = await client.get("/v1/api-keys", headers=tenant.as_role(role))
        assert_problem(r, 403, "FORBIDDEN")
    bad = [{"scopes": ["patients:delete"]}, {"scopes": []}, {"api_version": "1999-01-01"}]
    bad += [{"expires_at": (now() - dt.timedelta(minutes=1)).isoformat()}]
    for wrong in bad:
        r = await client.post("/v1/api-keys", json={**body, **wrong}, headers=admin)
        assert error_fields(r) == set(wrong), r.text


async def test_a_key_acts_as_itself_in_its_tenant_within_its_scopes(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    made = await make_key(client, tenant, [PATIENTS_READ, PATIENTS_WRITE])
    key = with_key(made)
    body = {
        "given_name": "Ada",
        "family_name": "Byron",
        "birth_date": "1990-01-01",
        "sex": "female",
    }
    r = await client.post("/v1/patients", json=body, headers=key)
    assert r.status_code == 201, r.text
    patient = r.json()
    r = await client.get(
        f"/v1/streams/patient/{patient['id']}/events", headers=tenant.as_role("AUDITOR")
    )
    assert [e["actor"] for e in r.json()["events"]] == [made["id"]]
    params = {"min_position": patient["position"]}
    r = await client.get(f"/v1/patients/{patient['id']}", params=params, headers=key)
    assert r.status_code == 200, r.text

    assert_problem(await client.get("/v1/appointments", headers=key), 403, "INSUFFICIENT_SCOPE")
    for method, path in (
        ("GET", "/v1/tenant"),
        ("GET", "/v1/api-keys"),
        ("GET", "/v1/audit/export"),
        ("GET", f"/v1/streams/patient/{patient['id']}"),
        ("POST", "/v1/tenants"),
        ("POST", f"/v1/patients/{patient['id']}/erase"),
    ):
        assert_problem(await client.request(method, path, headers=key), 403, "FORBIDDEN")

    theirs = await create_patient(client, other_tenant)
    r = await client.get(f"/v1/patients/{theirs['id']}", headers=key)
    assert_problem(r, 404, "NOT_FOUND")
    for presented in ("ct_live_nope", f"ct_live_{uuid.uuid4().hex}_{'x' * 43}", made["key"] + "x"):
        r = await client.get("/v1/patients", headers={"X-API-Key": presented})
        assert_problem(r, 401, "UNAUTHENTICATED")


async def test_rotation_keeps_the_old_secret_for_its_overlap_and_revocation_is_at_once(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    admin = tenant.as_role("CLINIC_ADMIN")
    made = await make_key(client, tenant, [PATIENTS_READ])
    r = await client.post(f"/v1/api-keys/{made['id']}/rotate", headers=admin)
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated["key"] != made["key"] and rotated["retiring_at"] and rotated["rotated_at"]
    for secret in (made, rotated):  # the old one works for the default 24 h
        assert (await client.get("/v1/patients", headers=with_key(secret))).status_code == 200
    r = await client.post(
        f"/v1/api-keys/{made['id']}/rotate", json={"overlap_hours": 0}, headers=admin
    )
    newest = r.json()
    for retired in (made, rotated):
        r = await client.get("/v1/patients", headers=with_key(retired))
        assert_problem(r, 401, "UNAUTHENTICATED")
    assert (await client.get("/v1/patients", headers=with_key(newest))).status_code == 200

    revoked = await client.delete(f"/v1/api-keys/{made['id']}", headers=admin)
    assert (revoked.status_code, revoked.json()["state"]) == (200, "revoked"), revoked.text
    r = await client.get("/v1/patients", headers=with_key(newest))
    assert_problem(r, 401, "UNAUTHENTICATED")
    again = await client.delete(f"/v1/api-keys/{made['id']}", headers=admin)
    assert again.json()["version"] == revoked.json()["version"]  # nothing more recorded
    r = await client.post(f"/v1/api-keys/{made['id']}/rotate", headers=admin)
    assert_problem(r, 409, "API_KEY_NOT_ACTIVE")
    r = await client.delete(f"/v1/api-keys/{uuid.uuid4()}", headers=admin)
    assert_problem(r, 404, "NOT_FOUND")


async def test_an_expired_key_is_refused(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    soon = (now() + dt.timedelta(seconds=1.5)).isoformat()
    made = await make_key(client, tenant, [PATIENTS_READ], expires_at=soon)
    assert (await client.get("/v1/patients", headers=with_key(made))).status_code == 200
    await asyncio.sleep(2)
    r = await client.get("/v1/patients", headers=with_key(made))
    assert_problem(r, 401, "UNAUTHENTICATED")
    listed = (await client.get("/v1/api-keys", headers=tenant.as_role("CLINIC_ADMIN"))).json()
    assert next(k for k in listed["items"] if k["id"] == made["id"])["state"] == "expired"
