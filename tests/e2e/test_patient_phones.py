"""Phones read with the tenant's region: recorded in E.164 beside the form typed, refused with
PHONE_INVALID when they name no number, and phones recorded as typed before (v1 events) read,
searched and messaged in E.164 too."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
from e2e_helpers import assert_problem, create_patient, patient_body, set_policy
from notification_helpers import confirmed_for, no_quiet_hours, wait_for
from support import TenantFixture

from backend.eventstore import EventStore
from backend.eventstore.types import NewEvent, StreamAppend


async def test_a_phone_in_any_format_is_recorded_in_e164_and_shown_as_typed(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    for typed in ("(212) 555-0102", "+1 (212) 555-0102", "212.555.0102"):
        created = await create_patient(client, tenant, phone=typed)
        assert (created["phone"], created["phone_as_typed"]) == ("+12125550102", typed)


async def test_what_names_no_number_is_refused_with_its_code(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    headers = tenant.as_role("RECEPTIONIST")
    for typed in ("555-0100", "call me maybe", "030 1234567"):
        r = await client.post("/v1/patients", json=patient_body(phone=typed), headers=headers)
        assert_problem(r, 422, "PHONE_INVALID")
        assert "region US" in r.json()["detail"], r.text
    patient = await create_patient(client, tenant)
    r = await client.patch(f"/v1/patients/{patient['id']}", json={"phone": "12"}, headers=headers)
    assert_problem(r, 422, "PHONE_INVALID")


async def test_the_tenants_phone_region_reads_national_numbers(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await set_policy(client, tenant, phone_region="DE")
    created = await create_patient(client, tenant, phone="030 1234567")
    assert (created["phone"], created["phone_as_typed"]) == ("+49301234567", "030 1234567")
    r = await client.patch(
        "/v1/tenant/policy", json={"phone_region": "XX"}, headers=tenant.as_role("CLINIC_ADMIN")
    )
    assert_problem(r, 422, "VALIDATION_ERROR")


async def test_a_phone_recorded_as_typed_reads_searches_and_is_messaged_in_e164(
    client: httpx.AsyncClient, tenant: TenantFixture, store: EventStore
) -> None:
    """A registration recorded before phones were read (v1: the phone as typed only)."""
    await no_quiet_hours(client, tenant)
    patient_id = uuid.uuid4()
    legacy = {
        "patient_id": str(patient_id),
        "given_name": "Ann",
        "family_name": f"Legacy{uuid.uuid4().hex[:6]}",
        "birth_date": "1980-01-01",
        "sex": "female",
        "phone": "212-555-0103",
        "email": None,
        "specialty_data": {},
    }
    event = NewEvent(uuid.uuid4(), "PatientRegistered", legacy, dt.datetime.now(dt.UTC))
    result = await store.append(tenant.id, [StreamAppend("patient", patient_id, 0, (event,))])
    headers = tenant.as_role("RECEPTIONIST")
    after = {"min_position": result.position}
    r = await client.get(f"/v1/patients/{patient_id}", params=after, headers=headers)
    assert r.status_code == 200, r.text
    assert (r.json()["phone"], r.json()["phone_as_typed"]) == ("+12125550103", "212-555-0103")
    for q in ("+1 212 555 0103", "(212) 555-0103", "5550103"):
        r = await client.get("/v1/patients", params={"q": q, **after}, headers=headers)
        assert [p["id"] for p in r.json()["items"]] == [str(patient_id)], q

    await confirmed_for(client, tenant, {"id": str(patient_id)})
    (sent,) = await wait_for(client, tenant, str(patient_id), "sent")
    assert (sent["channel"], sent["address"]) == ("sms", "+12125550103")
