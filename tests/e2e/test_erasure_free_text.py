"""Erasure covers what is written about a patient in free text: their sex, the reasons of
their appointments, visits and admissions, their visits' notes (with each revision's reason)
and addenda are sealed under their key, never stored in the clear, and read redacted
everywhere once they are erased (the read models as a rebuild folds the events). The erase
reason, which stays readable, may not name them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import httpx
from admission_helpers import admit_raw, define_ward, read
from e2e_helpers import assert_problem, book, create_patient, create_practitioner, now
from support import TenantFixture, new_tenant

MARK = "Zq7"  # in every free text written below, and in nothing else of these streams
NOTE = {s: f"{MARK} {s}" for s in ("subjective", "objective", "assessment", "plan")}


async def _charted(client: httpx.AsyncClient, tenant: TenantFixture) -> dict[str, Any]:
    """A patient with a booking, a signed visit with a revised note and an addendum."""
    patient = await create_patient(client, tenant, sex="female")
    doctor = await create_practitioner(client, tenant)
    as_doctor = tenant.as_role("DOCTOR", actor=doctor["id"])
    start = now() + dt.timedelta(days=3)
    r = await book(
        client,
        tenant,
        patient["id"],
        doctor["id"],
        start,
        start + dt.timedelta(minutes=30),
        reason=f"{MARK} chest pain",
    )
    assert r.status_code == 201, r.text
    appointment = r.json()
    body = {"patient_id": patient["id"], "practitioner_id": doctor["id"], "reason": f"{MARK} cough"}
    r = await client.post("/v1/visits", json=body, headers=tenant.as_role("RECEPTIONIST"))
    assert r.status_code == 201, r.text
    url = f"/v1/visits/{r.json()['id']}"
    first = {**NOTE, "plan": "rest"}
    assert (await client.put(f"{url}/note", json=first, headers=as_doctor)).is_success
    revised = {**NOTE, "reason": f"{MARK} plan changed"}
    r = await client.put(f"{url}/note", json=revised, headers=as_doctor)
    assert r.status_code == 200, r.text
    assert (r.json()["note_revision"], r.json()["note_author"]) == (2, doctor["id"])
    assert (await client.post(f"{url}/sign-off", headers=as_doctor)).is_success
    r = await client.post(f"{url}/addenda", json={"text": f"{MARK} called"}, headers=as_doctor)
    assert r.status_code == 200, r.text
    return {"patient": patient, "appointment": appointment, "visit": r.json()}


async def _stored(owner_dsn: str, streams: list[str]) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(owner_dsn)
    try:
        return await conn.fetch(
            "SELECT event_type, data FROM events WHERE stream_id = ANY($1::uuid[])",
            [uuid.UUID(s) for s in streams],
        )
    finally:
        await conn.close()


async def _erase(client: httpx.AsyncClient, tenant: TenantFixture, patient_id: str) -> int:
    r = await client.post(
        f"/v1/patients/{patient_id}/erase",
        json={"reason": "the patient's written request"},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.status_code == 200, r.text
    position: int = r.json()["position"]
    return position


async def _folded(client: httpx.AsyncClient, tenant: TenantFixture, path: str) -> dict[str, Any]:
    r = await client.get(path, headers=tenant.as_role("AUDITOR"))
    assert r.status_code == 200, r.text
    state: dict[str, Any] = r.json()["state"]
    return state


async def test_free_text_about_a_patient_is_never_stored_in_the_clear(
    client: httpx.AsyncClient, tenant: TenantFixture, owner_dsn: str
) -> None:
    made = await _charted(client, tenant)
    streams = [made["patient"]["id"], made["appointment"]["id"], made["visit"]["id"]]
    stored = await _stored(owner_dsn, streams)
    kinds = {r["event_type"] for r in stored}
    assert {"AppointmentRequested", "VisitOpened", "VisitNoteDrafted", "AddendumAdded"} <= kinds
    for row in stored:
        assert MARK not in str(row["data"]), row
    [registered] = [r for r in stored if r["event_type"] == "PatientRegistered"]
    assert "sex" not in registered["data"]


async def test_an_erasure_redacts_the_free_text_everywhere(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    made = await _charted(client, tenant)
    patient, appointment, visit = made["patient"], made["appointment"], made["visit"]
    at = await _erase(client, tenant, patient["id"])

    erased = await read(client, tenant, f"/v1/patients/{patient['id']}", at)
    assert erased["sex"] == "[erased]"
    booked = await read(client, tenant, f"/v1/appointments/{appointment['id']}", at)
    assert booked["reason"] is None
    folded = await _folded(client, tenant, f"/v1/streams/appointment/{appointment['id']}")
    assert folded["reason"] is None
    shown = await read(client, tenant, f"/v1/visits/{visit['id']}", at)
    folded = await _folded(client, tenant, f"/v1/streams/visit/{visit['id']}")
    for state in (shown, folded):
        assert state["reason"] is None
        assert state["note"] == dict.fromkeys(NOTE, "[erased]")
        assert [a["text"] for a in state["addenda"]] == ["[erased]"]
        assert state["note_revision"] == 2 and state["signed_note_hash"]
    r = await client.get(
        f"/v1/streams/visit/{visit['id']}/events", headers=tenant.as_role("AUDITOR")
    )
    revisions = [e["data"] for e in r.json()["events"] if e["type"] == "VisitNoteDrafted"]
    assert [d["reason"] for d in revisions] == [None, None]  # redacted like the note


async def test_an_erasure_drops_every_snapshot_whose_state_names_the_patient(
    client: httpx.AsyncClient, tenant: TenantFixture, owner_dsn: str
) -> None:
    """Snapshot states hold sealed values in the clear: the erasure drops them, whatever the
    stream's type (one no list names here), and leaves other patients' alone."""
    made = await _charted(client, tenant)
    erased, kept = made["patient"]["id"], (await create_patient(client, tenant))["id"]
    snapshots = [
        ("visit", uuid.UUID(made["visit"]["id"]), erased),
        ("a_stream_type_to_come", uuid.uuid4(), erased),
        ("a_stream_type_to_come", uuid.uuid4(), kept),
    ]
    conn = await asyncpg.connect(owner_dsn)
    try:
        for stream_type, stream_id, patient_id in snapshots:
            await conn.execute(
                "INSERT INTO snapshots (tenant_id, stream_type, stream_id, version, position,"
                " state_version, state, max_recorded_at, max_occurred_at)"
                " VALUES ($1, $2, $3, 1, 1, 1, $4::jsonb, now(), now())",
                tenant.id,
                stream_type,
                stream_id,
                f'{{"patient_id": "{patient_id}", "reason": "{MARK}"}}',
            )
        await _erase(client, tenant, erased)
        left = await conn.fetch(
            "SELECT state->>'patient_id' AS patient_id FROM snapshots"
            " WHERE tenant_id = $1 AND state->>'reason' = $2",
            tenant.id,
            MARK,
        )
    finally:
        await conn.close()
    assert [r["patient_id"] for r in left] == [kept]


async def test_an_admissions_reason_is_redacted_by_the_erasure(client: httpx.AsyncClient) -> None:
    hospital = await new_tenant(client, kind="hospital")
    ward = await define_ward(client, hospital, "Ward 9", ["A1"])
    patient = await create_patient(client, hospital)
    r = await admit_raw(client, hospital, patient["id"], ward["id"], "A1", reason=f"{MARK} sepsis")
    assert r.status_code == 201, r.text
    admission = r.json()["id"]
    at = await _erase(client, hospital, patient["id"])
    shown = await read(client, hospital, f"/v1/admissions/{admission}", at)
    folded = await _folded(client, hospital, f"/v1/streams/admission/{admission}")
    assert shown["reason"] == folded["reason"] == "[erased]"


async def test_the_erase_reason_may_not_name_the_patient(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant, given_name="Carla", family_name="García")
    url = f"/v1/patients/{patient['id']}/erase"
    for reason in ("requested by Carla", "GARCIA asked in writing"):
        r = await client.post(url, json={"reason": reason}, headers=tenant.as_role("CLINIC_ADMIN"))
        problem = assert_problem(r, 422, "VALIDATION_ERROR")
        assert "name the patient" in str(problem), problem
