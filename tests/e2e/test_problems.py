"""Errors are problem+json; 422s name the fields at fault."""

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import httpx
from e2e_helpers import (
    assert_problem,
    book,
    create_patient,
    create_practitioner,
    error_fields,
    now,
    patient_body,
    set_policy,
)
from support import TenantFixture


async def test_unknown_route_is_a_404_problem(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.get("/v1/nowhere", headers=tenant.as_role("RECEPTIONIST"))
    assert_problem(r, 404, "NOT_FOUND")


async def test_wrong_method_is_a_405_problem(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.delete("/v1/patients", headers=tenant.as_role("RECEPTIONIST"))
    assert_problem(r, 405, "METHOD_NOT_ALLOWED")


async def test_missing_family_name_is_named(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    body = patient_body()
    del body["family_name"]
    r = await client.post("/v1/patients", json=body, headers=tenant.as_role("RECEPTIONIST"))
    assert error_fields(r) == {"family_name"}


async def test_bad_sex_is_named(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    r = await client.post(
        "/v1/patients", json=patient_body(sex="robot"), headers=tenant.as_role("RECEPTIONIST")
    )
    assert error_fields(r) == {"sex"}


async def test_several_faults_are_all_named(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    body = patient_body(sex="robot", birth_date="10/12/1815")
    del body["given_name"]
    r = await client.post("/v1/patients", json=body, headers=tenant.as_role("RECEPTIONIST"))
    assert error_fields(r) == {"given_name", "sex", "birth_date"}


async def test_domain_rules_name_their_field(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    headers = tenant.as_role("RECEPTIONIST")
    tomorrow = (now() + dt.timedelta(days=1)).date().isoformat()
    cases = {
        "birth_date": patient_body(birth_date=tomorrow),
        "email": patient_body(email="not-an-address"),
        "given_name": patient_body(given_name="   "),
    }
    for field, body in cases.items():
        r = await client.post("/v1/patients", json=body, headers=headers)
        assert error_fields(r) == {field}, body
    r = await client.post("/v1/patients", json=patient_body(phone="call me"), headers=headers)
    assert error_fields(r, "PHONE_INVALID") == {"phone"}


async def test_a_birth_date_in_the_future_is_one_after_the_tenants_today(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """The tenant's today, not the UTC one: a zone whose day is not the UTC day now, at least an
    hour from its midnight (UTC+14 from 11:00 UTC, else UTC-12)."""
    zone = "Etc/GMT-14" if now().hour >= 11 else "Etc/GMT+12"
    await set_policy(client, tenant, timezone=zone)
    today = now().astimezone(ZoneInfo(zone)).date()
    assert today != now().date()
    born_today = await create_patient(client, tenant, birth_date=today.isoformat())
    assert born_today["birth_date"] == today.isoformat()
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    headers = tenant.as_role("RECEPTIONIST")
    r = await client.post("/v1/patients", json=patient_body(birth_date=tomorrow), headers=headers)
    assert error_fields(r) == {"birth_date"}
    r = await client.patch(
        f"/v1/patients/{born_today['id']}", json={"birth_date": tomorrow}, headers=headers
    )
    assert error_fields(r) == {"birth_date"}


async def test_unknown_fields_are_refused(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    r = await client.post(
        "/v1/patients", json=patient_body(ssn="123"), headers=tenant.as_role("RECEPTIONIST")
    )
    assert error_fields(r) == {"ssn"}


async def test_malformed_json_is_422(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    headers = {**tenant.as_role("RECEPTIONIST"), "Content-Type": "application/json"}
    r = await client.post("/v1/patients", content=b"{not json", headers=headers)
    assert_problem(r, 422, "VALIDATION_ERROR")


async def test_end_before_start_names_end(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    patient = await create_patient(client, tenant)
    practitioner = await create_practitioner(client, tenant)
    start = now() + dt.timedelta(days=2)
    for end in (start - dt.timedelta(minutes=30), start, start + dt.timedelta(hours=25)):
        r = await book(client, tenant, patient["id"], practitioner["id"], start, end)
        assert error_fields(r) == {"end"}, end


async def test_times_without_offset_are_refused(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    body = {
        "patient_id": str(uuid.uuid4()),
        "practitioner_id": str(uuid.uuid4()),
        "start": "2030-01-01T09:00:00",
        "end": "2030-01-01T09:30:00",
    }
    r = await client.post("/v1/appointments", json=body, headers=tenant.as_role("RECEPTIONIST"))
    assert error_fields(r) == {"start", "end"}


async def test_a_malformed_id_in_the_path_is_422(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.get("/v1/patients/not-a-uuid", headers=tenant.as_role("RECEPTIONIST"))
    assert error_fields(r) == {"patient_id"}
