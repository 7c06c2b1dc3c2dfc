"""Erasure tombstones the Idempotency-Keys whose stored responses are about the patient: a
repeat answers 410 PATIENT_ERASED, never a new patient (issue 18), and no data of theirs stays
in the stored responses. Tombstones do not expire."""

import asyncio
import datetime as dt
import json
import uuid
from typing import Any

import httpx
from admission_helpers import define_ward
from e2e_helpers import (
    create_patient,
    create_practitioner,
    iso,
    list_all_patients,
    now,
    patient_body,
)
from idempotency_helpers import (
    assert_executed,
    assert_replayed,
    assert_tombstone,
    keyed,
    stored_rows,
)
from support import TenantFixture, new_tenant

from backend.api.idempotency import TOMBSTONE, IdempotentRequest, StoredResponse
from backend.eventstore.db import connect

SET_TENANT = "SELECT set_config('app.tenant_id', $1, true)"
CARLA = {"given_name": "Carla", "birth_date": "1971-04-02", "sex": "female"}


async def _erase(client: httpx.AsyncClient, tenant: TenantFixture, patient_id: str) -> None:
    r = await client.post(
        f"/v1/patients/{patient_id}/erase",
        json={"reason": "patient's request"},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.status_code == 200, r.text


async def test_a_repeated_registration_after_erasure_registers_nobody(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    body = patient_body(**CARLA)
    headers = keyed(tenant.as_role("RECEPTIONIST"), "idem-carla-1")
    first = await client.post("/v1/patients", json=body, headers=headers)
    assert_executed(first)
    await _erase(client, tenant, first.json()["id"])
    again = await client.post("/v1/patients", json=body, headers=headers)
    assert_tombstone(again)
    assert body["family_name"] not in again.text and first.json()["id"] not in again.text
    # The tombstone keeps no trace of the body, so any request with the key gets it.
    assert_tombstone(await client.post("/v1/patients", json=patient_body(), headers=headers))
    marker = await create_patient(client, tenant)
    found = await list_all_patients(
        client, tenant.as_role("RECEPTIONIST"), q=body["family_name"], after=marker["position"]
    )
    assert found == []


async def _keyed_commands_about(
    client: httpx.AsyncClient, hospital: TenantFixture, patient_id: str
) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    """Every kind of command whose response is about the patient, each sent once with a key
    of its own: (url, body, headers) to send again."""
    practitioner = await create_practitioner(client, hospital)
    ward = await define_ward(client, hospital, "North", ["N1"])
    start = (now() + dt.timedelta(days=2)).replace(microsecond=0)
    sent: list[tuple[str, dict[str, Any], dict[str, str]]] = []

    async def send(url: str, body: dict[str, Any], role: str, status: int) -> dict[str, Any]:
        headers = keyed(hospital.as_role(role, actor=practitioner["id"]))
        r = await client.post(url, json=body, headers=headers)
        assert_executed(r, status)
        sent.append((url, body, headers))
        answer: dict[str, Any] = r.json()
        return answer

    await send(
        "/v1/appointments",
        {
            "patient_id": patient_id,
            "practitioner_id": practitioner["id"],
            "start": iso(start),
            "end": iso(start + dt.timedelta(minutes=30)),
            "reason": "palpitations",
        },
        "RECEPTIONIST",
        201,
    )
    visit = await send(
        "/v1/visits",
        {"patient_id": patient_id, "practitioner_id": practitioner["id"], "reason": "chest pain"},
        "DOCTOR",
        201,
    )
    await send(
        f"/v1/visits/{visit['id']}/lab-orders",
        {"test_code": "TROP", "test_name": "Troponin"},
        "DOCTOR",
        200,
    )
    await send("/v1/invoices", {"patient_id": patient_id}, "RECEPTIONIST", 201)
    await send(
        "/v1/admissions",
        {"patient_id": patient_id, "ward_id": ward["id"], "bed": "N1", "reason": "observation"},
        "NURSE",
        201,
    )
    return sent


async def test_every_response_about_the_patient_becomes_a_tombstone(
    client: httpx.AsyncClient, owner_dsn: str
) -> None:
    hospital = await new_tenant(client, kind="hospital")
    nurse = keyed(hospital.as_role("NURSE"))
    body = patient_body(**CARLA, phone="+1 212 555 0101", email="carla@example.org")
    registered = await client.post("/v1/patients", json=body, headers=nurse)
    assert_executed(registered)
    patient_id = registered.json()["id"]
    sent = [("/v1/patients", body, nurse)]
    change = {"family_name": f"Vidal-{uuid.uuid4().hex[:6]}"}
    changed_with = keyed(hospital.as_role("NURSE"))
    changed = await client.patch(f"/v1/patients/{patient_id}", json=change, headers=changed_with)
    assert_executed(changed, 200)
    sent += await _keyed_commands_about(client, hospital, patient_id)
    bystander_body = patient_body()
    bystander = keyed(hospital.as_role("NURSE"))
    other = await client.post("/v1/patients", json=bystander_body, headers=bystander)
    erase_with = keyed(hospital.as_role("CLINIC_ADMIN"))
    erasure = {"reason": "patient's request"}
    erased = await client.post(f"/v1/patients/{patient_id}/erase", json=erasure, headers=erase_with)
    assert_executed(erased, 200)
    sent.append((f"/v1/patients/{patient_id}/erase", erasure, erase_with))

    for url, sent_body, headers in sent:
        assert_tombstone(await client.post(url, json=sent_body, headers=headers))
    assert_tombstone(
        await client.patch(f"/v1/patients/{patient_id}", json=change, headers=changed_with)
    )
    assert_replayed(
        await client.post("/v1/patients", json=bystander_body, headers=bystander), other
    )
    rows = [
        r
        for r in await stored_rows(owner_dsn, hospital.id)
        if r["patient_id"] == uuid.UUID(patient_id)
    ]
    assert len(rows) == len(sent) + 1
    for row in rows:
        assert (row["status_code"], row["request_hash"], row["expires_at"]) == (410, None, None)
        assert (row["headers"], row["response"]) == ({}, TOMBSTONE)
        for personal in ("Carla", "Vidal", "1971", "555", "carla@", "palpitations", "chest"):
            assert personal not in json.dumps(row["response"]), row


async def test_a_response_being_stored_during_an_erasure_is_tombstoned(
    client: httpx.AsyncClient, tenant: TenantFixture, app_dsn: str, owner_dsn: str
) -> None:
    """A command about the patient that stores its response while the erasure runs: the
    erasure waits for it and then tombstones its row, so nothing about the patient is left."""
    patient = await create_patient(client, tenant, **CARLA)
    patient_id = uuid.UUID(patient["id"])
    key = f"k-{uuid.uuid4()}"
    idem = IdempotentRequest.of(key, tenant.id, "nurse-7", "POST", "/v1/visits", b"{}")
    command = await connect(app_dsn)
    try:
        async with command.transaction():
            await command.execute(SET_TENANT, str(tenant.id))
            assert await idem.claim(command, tenant.id) is None
            about = StoredResponse(201, {"patient_id": patient_id, "reason": "Carla's fall"}, {})
            await idem.remember(command, tenant.id, about, patient_id, dt.timedelta(hours=24))
            erasing = asyncio.create_task(_erase(client, tenant, patient["id"]))
            await _blocked_or_done(owner_dsn, erasing)
            assert not erasing.done()
        await erasing
    finally:
        await command.close()
    [row] = [r for r in await stored_rows(owner_dsn, tenant.id) if r["key"] == key]
    assert (row["status_code"], row["expires_at"], row["response"]) == (410, None, TOMBSTONE)


async def _blocked_or_done(owner_dsn: str, task: "asyncio.Task[None]") -> None:
    """Wait (under the runtime role's 5 s idle limit) until the task is done or a runtime
    connection of this database waits on a lock."""
    watcher = await connect(owner_dsn)
    try:
        for _ in range(80):
            waiting = await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND usename = 'caretrail_app' AND wait_event_type = 'Lock'"
            )
            if waiting or task.done():
                return
            await asyncio.sleep(0.05)
    finally:
        await watcher.close()
