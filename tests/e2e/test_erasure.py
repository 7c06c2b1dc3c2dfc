"""Erasure without rewriting history: after POST /v1/patients/{id}/erase the events remain and
still verify, personal fields read as redacted everywhere, and the erasure is an event."""

import json
import uuid
from typing import Any

import asyncpg
import httpx
from e2e_helpers import assert_problem, create_patient, iso, now
from notification_helpers import confirmed_for, no_quiet_hours, notifications_of, wait_for
from support import TenantFixture

NAME = "Zenobia"


async def _erased(client: httpx.AsyncClient, tenant: TenantFixture) -> dict[str, Any]:
    """A patient with a change and a booking-relevant history, then erased."""
    started = now()
    patient = await create_patient(
        client, tenant, given_name=NAME, phone="+44 20 7946 0000", email="z@example.org"
    )
    r = await client.patch(
        f"/v1/patients/{patient['id']}",
        json={"family_name": "Quill"},
        headers=tenant.as_role("NURSE"),
    )
    assert r.status_code == 200, r.text
    before_erasure = now()
    r = await client.post(
        f"/v1/patients/{patient['id']}/erase",
        json={"reason": "patient's request (GDPR art. 17)"},
        headers=tenant.as_role("CLINIC_ADMIN", actor="admin-1"),
    )
    assert r.status_code == 200, r.text
    return {**r.json(), "started": started, "before_erasure": before_erasure}


async def test_erasure_redacts_the_read_model_and_search(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    erased = await _erased(client, tenant)
    assert (erased["given_name"], erased["erased"], erased["version"]) == ("[erased]", True, 3)
    staff = tenant.as_role("RECEPTIONIST")
    r = await client.get(
        f"/v1/patients/{erased['id']}",
        params={"min_position": erased["position"]},
        headers=staff,
    )
    body = r.json()
    assert (body["given_name"], body["family_name"], body["birth_date"]) == (
        "[erased]",
        "[erased]",
        None,
    )
    assert (body["phone"], body["email"], body["erased"]) == (None, None, True)
    found = await client.get("/v1/patients", params={"q": NAME.lower()}, headers=staff)
    assert erased["id"] not in [p["id"] for p in found.json()["items"]]


async def test_history_and_past_states_read_redacted_and_the_chain_verifies(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    erased = await _erased(client, tenant)
    auditor = tenant.as_role("AUDITOR")
    stream = f"/v1/streams/patient/{erased['id']}"
    past = await client.get(
        stream, params={"as_of": iso(erased["before_erasure"])}, headers=auditor
    )
    assert past.status_code == 200, past.text
    assert past.json()["version"] == 2
    assert past.json()["state"]["given_name"] == "[erased]"  # the key is gone, for the past too
    history = (await client.get(f"{stream}/events", headers=auditor)).json()["events"]
    assert [e["type"] for e in history] == [
        "PatientRegistered",
        "PatientDetailsChanged",
        "PatientErased",
    ]
    assert history[0]["data"]["given_name"] == "[erased]"
    assert history[0]["data"]["birth_date"] is None
    assert history[1]["data"]["changes"] == {}
    assert history[2]["data"]["reason"] == "patient's request (GDPR art. 17)"
    assert history[2]["actor"] == "admin-1"
    verified = (await client.get(f"{stream}/verify", headers=auditor)).json()
    assert (verified["valid"], verified["events"]) == (True, 3)
    export = await client.get(
        "/v1/audit/export", params={"from": iso(erased["started"])}, headers=auditor
    )
    lines = [json.loads(line) for line in export.text.splitlines()]
    registered = next(e for e in lines if e["type"] == "PatientRegistered")
    assert registered["data"]["given_name"] == "[erased]"
    assert NAME not in export.text


async def test_personal_fields_are_never_stored_in_the_clear(
    client: httpx.AsyncClient, tenant: TenantFixture, owner_dsn: str
) -> None:
    patient = await create_patient(client, tenant, given_name=NAME, family_name="Unique-Qx")
    conn = await asyncpg.connect(owner_dsn)
    try:
        stored = await conn.fetchval(
            "SELECT data::text FROM events WHERE stream_id = $1", uuid.UUID(patient["id"])
        )
    finally:
        await conn.close()
    assert "sealed" in stored
    assert "Unique-Qx" not in stored and NAME not in stored


async def test_an_erased_patient_takes_no_changes_and_no_bookings(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    erased = await _erased(client, tenant)
    r = await client.patch(
        f"/v1/patients/{erased['id']}",
        json={"phone": "+1 212 555 0100"},
        headers=tenant.as_role("NURSE"),
    )
    assert_problem(r, 409, "PATIENT_ERASED")
    again = await client.post(
        f"/v1/patients/{erased['id']}/erase",
        json={"reason": "twice"},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert_problem(again, 409, "PATIENT_ERASED")


async def test_erasure_is_for_the_clinic_admin_with_a_reason(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    path = f"/v1/patients/{patient['id']}/erase"
    r = await client.post(path, json={"reason": "x"}, headers=tenant.as_role("DOCTOR"))
    assert_problem(r, 403, "FORBIDDEN")
    r = await client.post(path, json={"reason": ""}, headers=tenant.as_role("CLINIC_ADMIN"))
    assert_problem(r, 422, "VALIDATION_ERROR")
    r = await client.post(path, json={"reason": "x"}, headers=other_tenant.as_role("CLINIC_ADMIN"))
    assert_problem(r, 404, "NOT_FOUND")


async def test_an_erased_patients_messages_read_redacted(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """A reminder rendered with the patient's name: sealed with their key like their own
    events, and redacted in the notifications read model once they are erased."""
    await no_quiet_hours(client, tenant)
    patient = await create_patient(client, tenant, given_name=NAME, phone="+44 20 7946 0001")
    await confirmed_for(client, tenant, patient)
    queued = await wait_for(client, tenant, patient["id"], "sent")
    assert NAME in queued[0]["body"]
    r = await client.post(
        f"/v1/patients/{patient['id']}/erase",
        json={"reason": "request"},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.status_code == 200, r.text
    after = await notifications_of(
        client, tenant, patient["id"], min_position=str(r.json()["position"])
    )
    assert [(n["body"], n["address"]) for n in after] == [("[erased]", None)]
    history = await client.get(
        f"/v1/streams/notification/{after[0]['id']}/events", headers=tenant.as_role("AUDITOR")
    )
    queued_event = history.json()["events"][0]
    assert (queued_event["data"]["body"], queued_event["data"]["address"]) == ("[erased]", None)
