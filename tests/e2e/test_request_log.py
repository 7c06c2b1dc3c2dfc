"""One structured log event per request; X-Request-ID is echoed and recorded with events."""

import re
import uuid
from typing import Any

import httpx
from e2e_helpers import create_patient, error_fields, patient_body
from structlog.testing import capture_logs
from support import TenantFixture


def _requests(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in logs if e.get("event") == "request"]


async def test_one_event_per_request_with_route_template(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    headers = {**tenant.as_role("DOCTOR", actor="dr-log"), "X-Request-ID": "req-123"}
    with capture_logs() as logs:
        r = await client.get(
            f"/v1/patients/{patient['id']}",
            params={"min_position": patient["position"]},
            headers=headers,
        )
    assert r.status_code == 200
    (entry,) = _requests(logs)
    assert entry["request_id"] == "req-123"
    assert entry["tenant"] == str(tenant.id)
    assert entry["actor"] == "dr-log"
    assert entry["route"] == "/v1/patients/{patient_id}"
    assert entry["method"] == "GET"
    assert entry["status"] == 200
    assert isinstance(entry["latency_ms"], float) and entry["latency_ms"] >= 0
    assert entry["log_level"] == "info"


async def test_failed_requests_are_logged_with_their_status(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    with capture_logs() as logs:
        await client.get(f"/v1/patients/{uuid.uuid4()}")
        await client.get(f"/v1/patients/{uuid.uuid4()}", headers=tenant.as_role("NURSE"))
    unauthenticated, missing = _requests(logs)
    assert (unauthenticated["status"], unauthenticated["actor"]) == (401, None)
    assert unauthenticated["tenant"] is None
    assert unauthenticated["route"] == "/v1/patients/{patient_id}"
    assert (missing["status"], missing["tenant"]) == (404, str(tenant.id))
    assert missing["actor"] == "tester"


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    r = await client.get("/health", headers={"X-Request-ID": "abc-42"})
    assert r.headers["x-request-id"] == "abc-42"
    generated = (await client.get("/health")).headers["x-request-id"]
    again = (await client.get("/health")).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert generated != again


async def test_request_and_correlation_ids_are_recorded_with_the_events(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    headers = {
        **tenant.as_role("RECEPTIONIST"),
        "X-Request-ID": f"req-{uuid.uuid4().hex}",
        "X-Correlation-ID": "visit-flow-7",
    }
    body = {
        "given_name": "Ida",
        "family_name": "Noddack",
        "birth_date": "1896-02-25",
        "sex": "female",
    }
    created = await client.post("/v1/patients", json=body, headers=headers)
    assert created.headers["x-request-id"] == headers["X-Request-ID"]
    r = await client.get(
        f"/v1/streams/patient/{created.json()['id']}/events", headers=tenant.as_role("AUDITOR")
    )
    (event,) = r.json()["events"]
    assert event["request_id"] == headers["X-Request-ID"]
    assert event["correlation_id"] == "visit-flow-7"
    assert event["roles"] == ["RECEPTIONIST"]


async def test_an_invalid_request_id_is_replaced_by_a_generated_one(
    client: httpx.AsyncClient,
) -> None:
    longest = "r" * 128
    assert (await client.get("/health", headers={"X-Request-ID": longest})).headers[
        "x-request-id"
    ] == longest
    for invalid in ("r" * 129, "two words", 'quote"d', "caf\u00e9"):
        r = await client.get("/health", headers={"X-Request-ID": invalid.encode("latin-1")})
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"]), invalid


async def test_an_invalid_correlation_id_is_refused_naming_the_header(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """It would be recorded in every event of the command, hash-chained and kept forever."""
    staff = tenant.as_role("RECEPTIONIST")
    for invalid in ("c" * 129, "two words", "a,b"):
        headers = {**staff, "X-Correlation-ID": invalid}
        r = await client.post("/v1/patients", json=patient_body(), headers=headers)
        assert error_fields(r) == {"X-Correlation-ID"}, invalid
    longest = {**staff, "X-Correlation-ID": "c" * 128}
    created = await client.post("/v1/patients", json=patient_body(), headers=longest)
    assert created.status_code == 201, created.text
    r = await client.get(
        f"/v1/streams/patient/{created.json()['id']}/events", headers=tenant.as_role("AUDITOR")
    )
    assert r.json()["events"][0]["correlation_id"] == "c" * 128
