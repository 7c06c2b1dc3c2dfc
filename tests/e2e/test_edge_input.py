"""Hostile and extreme input becomes a 4xx problem, never a 500; real 500s stay well-formed.

These use a client (tests/e2e/conftest.py) that turns unhandled exceptions into the 500 a real
server sends, instead of re-raising them into the test.
"""

import os

import httpx
from e2e_helpers import create_patient, create_practitioner, patient_body
from structlog.testing import capture_logs
from support import TenantFixture


def _client_error(r: httpx.Response, field: str | None = None) -> None:
    assert 400 <= r.status_code < 500, f"{r.status_code} {r.text}"
    if field is not None:
        assert field in {e["field"] for e in r.json().get("errors", [])}, r.text


async def test_version_beyond_bigint_is_a_client_error(
    server: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(server, tenant)
    r = await server.get(
        f"/v1/streams/patient/{patient['id']}",
        params={"version": 10**20},
        headers=tenant.as_role("AUDITOR"),
    )
    _client_error(r, "version")


async def test_as_of_before_year_one_utc_is_a_client_error(
    server: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(server, tenant)
    r = await server.get(
        f"/v1/streams/patient/{patient['id']}",
        params={"as_of": "0001-01-01T00:00:00+01:00"},
        headers=tenant.as_role("AUDITOR"),
    )
    _client_error(r, "as_of")


async def test_appointment_time_outside_the_utc_range_is_a_client_error(
    server: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(server, tenant)
    doc = await create_practitioner(server, tenant)
    body = {
        "patient_id": patient["id"],
        "practitioner_id": doc["id"],
        "start": "0001-01-01T00:00:00+01:00",
        "end": "0001-01-01T00:30:00+01:00",
    }
    r = await server.post("/v1/appointments", json=body, headers=tenant.as_role("RECEPTIONIST"))
    _client_error(r, "start")


async def test_nul_character_in_text_is_a_client_error(
    server: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await server.post(
        "/v1/patients",
        json=patient_body(given_name="A\u0000B"),
        headers=tenant.as_role("RECEPTIONIST"),
    )
    _client_error(r, "given_name")


async def test_oversized_idempotency_key_is_a_client_error(
    server: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    headers = {**tenant.as_role("RECEPTIONIST"), "Idempotency-Key": os.urandom(4000).hex()}
    r = await server.post("/v1/patients", json=patient_body(), headers=headers)
    _client_error(r)


async def test_server_errors_still_carry_the_request_id(server: httpx.AsyncClient) -> None:
    r = await server.get("/_boom", headers={"X-Request-ID": "trace-500"})
    assert r.status_code == 500
    assert r.headers.get("x-request-id") == "trace-500"


async def test_openapi_documents_validation_errors_as_problems(server: httpx.AsyncClient) -> None:
    spec = (await server.get("/openapi.json")).json()
    documented = spec["paths"]["/v1/patients"]["post"]["responses"]["422"]["content"]
    assert "application/problem+json" in documented, documented


async def test_unhandled_errors_are_500_problems_and_logged(server: httpx.AsyncClient) -> None:
    with capture_logs() as logs:
        r = await server.get("/_boom", headers={"X-Request-ID": "trace-500"})
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert (body["code"], body["status"]) == ("INTERNAL_ERROR", 500)
    assert "kaboom" not in r.text  # internals are not leaked to the caller
    (entry,) = [e for e in logs if e.get("event") == "request"]
    assert (entry["request_id"], entry["status"], entry["route"]) == ("trace-500", 500, "/_boom")
