"""Regression tests for what schemathesis found (tests/e2e/test_openapi_fuzz.py): each was a
request the schema allowed and the API refused, a request it forbade and the API accepted, or
an answer the schema did not describe."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from billing_helpers import draft
from e2e_helpers import assert_problem, create_patient, error_fields, patient_body
from fastapi import FastAPI
from support import TenantFixture, bearer


@pytest.fixture(scope="module")
def schema(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _parameter(schema: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    for parameter in schema["paths"][path][method]["parameters"]:
        if parameter["name"] == name:
            found: dict[str, Any] = parameter["schema"]
            return found
    raise AssertionError(f"{method} {path} has no {name}")


def _property(schema: dict[str, Any], model: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = schema["components"]["schemas"][model]["properties"][name]
    return found


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/appointments", {"date": "0"}, "date"),
        ("/v1/front-desk/day", {"date": "0"}, "date"),
        ("/v1/audit/export", {"from": "0.5"}, "from"),
    ],
)
async def test_days_and_times_are_text_not_numbers(
    client: httpx.AsyncClient, tenant: TenantFixture, path: str, params: dict[str, str], field: str
) -> None:
    """pydantic read "0" as 1970-01-01 and "0.5" as half a second after the epoch."""
    r = await client.get(path, params=params, headers=tenant.as_role("CLINIC_ADMIN", "AUDITOR"))
    assert error_fields(r) == {field}


async def test_405_allows_every_method_of_the_path(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    r = await client.request(
        "OPTIONS", f"/v1/patients/{patient['id']}", headers=tenant.as_role("CLINIC_ADMIN")
    )
    assert_problem(r, 405, "METHOD_NOT_ALLOWED")
    assert {"GET", "PATCH"} <= {m.strip() for m in r.headers["Allow"].split(",")}


async def test_a_malformed_if_match_is_422_not_412(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    headers = {**tenant.as_role("RECEPTIONIST"), "If-Match": "oo]RI$z"}
    r = await client.patch(f"/v1/patients/{patient['id']}", json={"phone": None}, headers=headers)
    assert error_fields(r) == {"If-Match"}


async def test_whole_numbers_as_json_counts_them(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    invoice = await draft(client, tenant)
    line = {"code": "C", "description": "Consult", "unit_price": "10.00"}
    url = f"/v1/invoices/{invoice['id']}/lines"
    headers = tenant.as_role("RECEPTIONIST")
    assert (await client.post(url, json={**line, "quantity": 2.0}, headers=headers)).is_success
    for refused in ("2", 2.5, True):
        r = await client.post(url, json={**line, "quantity": refused}, headers=headers)
        assert error_fields(r) == {"quantity"}


async def test_idempotency_keys_are_visible_ascii(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    headers = [(k.encode(), v.encode()) for k, v in tenant.as_role("RECEPTIONIST").items()]
    headers.append((b"Idempotency-Key", "clé".encode()))  # printable, not ASCII
    r = await client.post("/v1/patients", json=patient_body(), headers=headers)
    assert error_fields(r) == {"Idempotency-Key"}


async def test_an_empty_phone_is_refused_as_the_schema_says(
    client: httpx.AsyncClient, tenant: TenantFixture, schema: dict[str, Any]
) -> None:
    phone = _property(schema, "NewPatient", "phone")["anyOf"][0]
    assert phone["minLength"] == 1
    r = await client.post(
        "/v1/patients", json=patient_body(phone=""), headers=tenant.as_role("NURSE")
    )
    assert error_fields(r) == {"phone"}


def test_constraints_the_handlers_enforce_are_in_the_schema(schema: dict[str, Any]) -> None:
    assert _property(schema, "SpecialtyEvent", "plugin")["pattern"] == "^[a-z][a-z0-9_]{0,62}$"
    step = _parameter(schema, "/v1/checklists/{checklist_id}/steps/{step}", "post", "step")
    assert step["pattern"] == "^[a-z][a-z0-9_]{0,62}$"
    name = _parameter(schema, "/v1/notification-templates/{name}", "put", "name")
    assert name["pattern"] == "^[a-z][a-z0-9_-]{0,63}$"
    assert _property(schema, "NewPatient", "given_name")["pattern"] == "^[^\\x00]*$"
    assert "anyOf" not in _property(schema, "PatientChanges", "sex")  # null is refused
    heart_rate = _property(schema, "Vitals", "heart_rate")
    assert (heart_rate["minimum"], heart_rate["maximum"]) == (20, 300)
    assert {"type": "number"} in _property(schema, "Vitals", "temperature_c")["anyOf"]
    percent = _property(schema, "Discount", "percent")["pattern"]
    assert "100" in percent
    assert "If-Match" in {p["name"] for p in schema["paths"]["/v1/visits"]["post"]["parameters"]}
    reload = schema["paths"]["/v1/specialties/reload"]["post"]
    assert "Idempotency-Key" not in {p["name"] for p in reload.get("parameters", [])}
    assert "413" in schema["paths"]["/v1/patients"]["post"]["responses"]


async def test_metrics_and_operations_declare_their_refusals(schema: dict[str, Any]) -> None:
    assert "401" in schema["paths"]["/metrics"]["get"]["responses"]
    assert bearer(["PLATFORM_ADMIN"])  # the operators' token is a plain bearer token
