"""Visits: opening (walk-in or from an appointment), the SOAP note, billable services,
sign-off, addenda, reads and tenant isolation."""

import datetime as dt
import uuid

import httpx
from e2e_helpers import act, assert_problem, booked, create_patient, error_fields, now
from support import TenantFixture
from visit_helpers import NOTE, events_of, ok, open_walk_in, send, signed_visit


async def test_walk_in_visit(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    visit = await open_walk_in(client, tenant)
    body = visit.body
    assert (body["status"], body["version"], body["reason"]) == ("open", 1, "cough")
    assert body["appointment_id"] is None and body["note"] is None
    got = await client.get(
        visit.url(), params={"min_position": body["position"]}, headers=tenant.as_role("NURSE")
    )
    assert got.status_code == 200, got.text
    assert got.json()["status"] == "open" and got.json()["patient_id"] == visit.patient_id
    assert got.headers["ETag"] == '"1"'
    assert int(got.headers["X-Projection-Position"]) >= body["position"]


async def test_open_names_the_missing_patient_or_practitioner(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    staff = tenant.as_role("RECEPTIONIST")
    missing = str(uuid.uuid4())
    r = await client.post(
        "/v1/visits",
        json={"patient_id": missing, "practitioner_id": visit.doctor_id},
        headers=staff,
    )
    assert error_fields(r) == {"patient_id"}
    r = await client.post(
        "/v1/visits",
        json={"patient_id": visit.patient_id, "practitioner_id": missing},
        headers=staff,
    )
    assert error_fields(r) == {"practitioner_id"}
    r = await client.post("/v1/visits", json={"patient_id": "x"}, headers=staff)
    assert error_fields(r) == {"patient_id", "practitioner_id"}


async def test_open_from_a_checked_in_appointment_once(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    appt = await booked(client, tenant, now() + dt.timedelta(minutes=10), confirm=True)
    await act(client, tenant, appt["id"], "check-in")
    body = {
        "patient_id": appt["patient_id"],
        "practitioner_id": appt["practitioner_id"],
        "appointment_id": appt["id"],
    }
    staff = tenant.as_role("NURSE")
    first = await client.post("/v1/visits", json=body, headers=staff)
    assert first.status_code == 201, first.text
    expected = uuid.uuid5(uuid.NAMESPACE_URL, f"caretrail:visit:{appt['id']}")
    assert first.json()["id"] == str(expected)
    assert first.json()["appointment_id"] == appt["id"]
    again = await client.post("/v1/visits", json=body, headers=staff)
    assert_problem(again, 409, "VISIT_EXISTS")


async def test_open_from_an_appointment_checks_it(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    requested = await booked(client, tenant, now() + dt.timedelta(days=1))
    staff = tenant.as_role("RECEPTIONIST")
    body = {
        "patient_id": requested["patient_id"],
        "practitioner_id": requested["practitioner_id"],
        "appointment_id": requested["id"],
    }
    r = await client.post("/v1/visits", json=body, headers=staff)
    assert_problem(r, 409, "APPOINTMENT_NOT_CHECKED_IN")
    confirmed = await act(client, tenant, requested["id"], "confirm")
    other = await create_patient(client, tenant)
    r = await client.post("/v1/visits", json={**body, "patient_id": other["id"]}, headers=staff)
    assert error_fields(r) == {"appointment_id"}
    r = await client.post(
        "/v1/visits", json={**body, "appointment_id": str(uuid.uuid4())}, headers=staff
    )
    assert error_fields(r) == {"appointment_id"}
    r = await client.post("/v1/visits", json=body, headers=staff)
    assert r.status_code == 201, r.text
    assert confirmed["status"] == "confirmed"


async def test_note_revisions(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    visit = await open_walk_in(client, tenant)
    first = await ok(client, visit, "/note", NOTE, "DOCTOR", "PUT")
    assert (first["note_revision"], first["version"], first["note"]) == (1, 2, NOTE)
    same = await ok(client, visit, "/note", NOTE, "DOCTOR", "PUT")
    assert (same["note_revision"], same["version"]) == (1, 2)
    changed = await ok(client, visit, "/note", {**NOTE, "plan": "salbutamol"}, "DOCTOR", "PUT")
    assert (changed["note_revision"], changed["version"]) == (2, 3)
    drafts = await events_of(client, visit, "VisitNoteDrafted")
    assert [d["data"]["revision"] for d in drafts] == [1, 2]


async def test_note_input_is_checked(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    visit = await open_walk_in(client, tenant)
    r = await send(client, visit, "/note", {"subjective": "x"}, "DOCTOR", "PUT")
    assert error_fields(r) == {"objective", "assessment", "plan"}
    r = await send(client, visit, "/note", {**NOTE, "plan": "x" * 20_001}, "DOCTOR", "PUT")
    assert error_fields(r) == {"plan"}
    r = await send(client, visit, "/note", {**NOTE, "subjective": 5}, "DOCTOR", "PUT")
    assert error_fields(r) == {"subjective"}


async def test_services(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    visit = await open_walk_in(client, tenant)
    line = {"code": "CONS", "description": "Consultation", "quantity": 1, "unit_price": "45.5"}
    added = await ok(client, visit, "/services", line, "RECEPTIONIST")
    assert added["services"] == [{**line, "unit_price": "45.50"}]
    bad = [
        ({**line, "quantity": 0}, "quantity"),
        ({**line, "unit_price": "-1"}, "unit_price"),
        ({**line, "unit_price": "ten"}, "unit_price"),
        ({**line, "unit_price": "1.234"}, "unit_price"),
        ({**line, "unit_price": 12.5}, "unit_price"),
        ({**line, "code": ""}, "code"),
    ]
    for body, field in bad:
        assert error_fields(await send(client, visit, "/services", body, "DOCTOR")) == {field}


async def test_sign_off_event_has_the_billing_contract_shape(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    await ok(client, visit, "/note", NOTE, "DOCTOR", "PUT")
    lines = [
        {"code": "CONS", "description": "Consultation", "quantity": 1, "unit_price": "45"},
        {"code": "ECG", "description": "Electrocardiogram", "quantity": 2, "unit_price": "12.30"},
    ]
    for line in lines:
        await ok(client, visit, "/services", line, "NURSE")
    signed = await ok(client, visit, "/sign-off", None, visit.doctor)
    assert signed["status"] == "signed"
    [event] = await events_of(client, visit, "VisitSignedOff")
    assert event["data"] == {
        "visit_id": visit.id,
        "patient_id": visit.patient_id,
        "practitioner_id": visit.doctor_id,
        "appointment_id": None,
        "services": [
            {"code": "CONS", "description": "Consultation", "quantity": 1, "unit_price": "45.00"},
            {
                "code": "ECG",
                "description": "Electrocardiogram",
                "quantity": 2,
                "unit_price": "12.30",
            },
        ],
        "note_revision": 1,
        "note_hash": signed["signed_note_hash"],
    }


async def test_only_the_owning_doctor_signs_off(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    await ok(client, visit, "/note", NOTE, "DOCTOR", "PUT")
    strangers = [
        tenant.as_role("DOCTOR", actor=str(uuid.uuid4())),
        tenant.as_role("NURSE", actor=visit.doctor_id),
        tenant.as_role("CLINIC_ADMIN"),
    ]
    for headers in strangers:
        assert_problem(
            await send(client, visit, "/sign-off", None, headers), 403, "NOT_VISIT_OWNER"
        )
    assert_problem(await send(client, visit, "/sign-off", None, "PATIENT"), 403, "FORBIDDEN")


async def test_sign_off_needs_a_note_and_happens_once(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    assert_problem(await send(client, visit, "/sign-off", None, visit.doctor), 409, "NOTE_REQUIRED")
    await ok(client, visit, "/note", NOTE, "DOCTOR", "PUT")
    await ok(client, visit, "/sign-off", None, visit.doctor)
    assert_problem(await send(client, visit, "/sign-off", None, visit.doctor), 409, "VISIT_SIGNED")


async def test_signed_visit_is_frozen_but_takes_addenda(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    early = await send(client, visit, "/addenda", {"text": "too early"}, "NURSE")
    assert_problem(early, 409, "VISIT_NOT_SIGNED")
    await ok(client, visit, "/note", NOTE, "DOCTOR", "PUT")
    await ok(client, visit, "/sign-off", None, visit.doctor)
    for note in (NOTE, {**NOTE, "plan": "changed"}):
        assert_problem(
            await send(client, visit, "/note", note, "DOCTOR", "PUT"), 409, "VISIT_SIGNED"
        )
    line = {"code": "X", "description": "late", "quantity": 1, "unit_price": "1"}
    assert_problem(await send(client, visit, "/services", line, "DOCTOR"), 409, "VISIT_SIGNED")
    nurse = tenant.as_role("NURSE", actor="nurse-7")
    added = await ok(client, visit, "/addenda", {"text": "patient called back"}, nurse)
    [addendum] = added["addenda"]
    assert (addendum["text"], addendum["author"]) == ("patient called back", "nurse-7")
    assert error_fields(await send(client, visit, "/addenda", {"text": ""}, "NURSE")) == {"text"}


async def test_roles(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    visit = await open_walk_in(client, tenant)
    patient = {"patient_id": visit.patient_id, "practitioner_id": visit.doctor_id}
    for role in ("PATIENT", "AUDITOR", "LAB_TECHNICIAN", "FINANCE_BILLING"):
        r = await client.post("/v1/visits", json=patient, headers=tenant.as_role(role))
        assert_problem(r, 403, "FORBIDDEN")
    line = {"code": "C", "description": "d", "quantity": 1, "unit_price": "1"}
    refusals = [
        ("/note", NOTE, "RECEPTIONIST", "PUT"),
        ("/note", NOTE, "CLINIC_ADMIN", "PUT"),
        ("/services", line, "AUDITOR", "POST"),
        ("/addenda", {"text": "t"}, "RECEPTIONIST", "POST"),
    ]
    for suffix, body, role, method in refusals:
        assert_problem(await send(client, visit, suffix, body, role, method), 403, "FORBIDDEN")
    for role in ("LAB_TECHNICIAN", "FINANCE_BILLING", "PHARMACIST"):
        assert_problem(await send(client, visit, "", None, role, "GET"), 403, "FORBIDDEN")


async def test_if_match(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    visit = await open_walk_in(client, tenant)
    stale = {**visit.doctor, "If-Match": '"7"'}
    r = await client.put(visit.url("/note"), json=NOTE, headers=stale)
    assert_problem(r, 412, "VERSION_CONFLICT")
    current = {**visit.doctor, "If-Match": '"1"'}
    r = await client.put(visit.url("/note"), json=NOTE, headers=current)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"2"'
    signer = {**visit.doctor, "If-Match": '"1"'}
    assert_problem(await send(client, visit, "/sign-off", None, signer), 412, "VERSION_CONFLICT")
    body = {"patient_id": visit.patient_id, "practitioner_id": visit.doctor_id}
    exists = {**tenant.as_role("NURSE"), "If-Match": '"1"'}
    r = await client.post("/v1/visits", json=body, headers=exists)
    assert_problem(r, 412, "VERSION_CONFLICT")
    fresh = {**tenant.as_role("NURSE"), "If-Match": '"0"'}
    assert (await client.post("/v1/visits", json=body, headers=fresh)).status_code == 201


async def test_list_by_patient_and_status(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    open_one = await open_walk_in(client, tenant)
    signed = await signed_visit(client, tenant)
    last = await ok(client, signed, "/addenda", {"text": "follow-up booked"}, "DOCTOR")
    auditor = tenant.as_role("AUDITOR")
    params = {"min_position": last["position"]}
    r = await client.get("/v1/visits", params=params, headers=auditor)
    assert r.status_code == 200, r.text
    assert {v["id"] for v in r.json()["items"]} == {open_one.id, signed.id}
    r = await client.get("/v1/visits", params={**params, "status": "signed"}, headers=auditor)
    assert [v["id"] for v in r.json()["items"]] == [signed.id]
    assert r.json()["items"][0]["addenda"][0]["text"] == "follow-up booked"
    r = await client.get(
        "/v1/visits", params={**params, "patient_id": open_one.patient_id}, headers=auditor
    )
    assert [v["id"] for v in r.json()["items"]] == [open_one.id]
    r = await client.get("/v1/visits", params={"status": "closed"}, headers=auditor)
    assert error_fields(r) == {"status"}
    r = await client.get("/v1/visits", headers=tenant.as_role("PATIENT"))  # sub: no patient
    assert_problem(r, 403, "FORBIDDEN")


async def test_a_patient_reads_only_their_own_signed_visit(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    own = tenant.as_role("PATIENT", actor=visit.patient_id)
    r = await client.get(visit.url(), params={"min_position": visit.body["position"]}, headers=own)
    assert_problem(r, 404, "NOT_FOUND")  # open: nothing a clinician has signed yet
    await ok(client, visit, "/note", NOTE, "DOCTOR", "PUT")
    signed = await ok(client, visit, "/sign-off", None, visit.doctor)
    params = {"min_position": signed["position"]}
    r = await client.get(visit.url(), params=params, headers=own)
    assert r.status_code == 200, r.text
    stranger = tenant.as_role("PATIENT", actor=str(uuid.uuid4()))
    assert_problem(await client.get(visit.url(), params=params, headers=stranger), 404, "NOT_FOUND")


async def test_another_tenants_visit_is_not_found(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    params = {"min_position": visit.body["position"]}
    foreign = {
        "/note": (NOTE, "DOCTOR", "PUT"),
        "/addenda": ({"text": "t"}, "DOCTOR", "POST"),
        "/sign-off": (None, "DOCTOR", "POST"),
        "/vitals": ({"heart_rate": 70}, "NURSE", "POST"),
        "/lab-orders": ({"test_code": "CBC", "test_name": "Blood count"}, "DOCTOR", "POST"),
    }
    for suffix, (body, role, method) in foreign.items():
        r = await client.request(
            method,
            visit.url(suffix),
            json=body,
            headers=other_tenant.as_role(role, actor=visit.doctor_id),
        )
        assert_problem(r, 404, "NOT_FOUND")
    r = await client.get(visit.url(), params=params, headers=other_tenant.as_role("AUDITOR"))
    assert_problem(r, 404, "NOT_FOUND")
    r = await client.get("/v1/visits", params=params, headers=other_tenant.as_role("AUDITOR"))
    assert r.json()["items"] == []
    r = await client.post(
        "/v1/visits",
        json={"patient_id": visit.patient_id, "practitioner_id": visit.doctor_id},
        headers=other_tenant.as_role("RECEPTIONIST"),
    )
    assert error_fields(r) == {"patient_id"}
    r = await client.get(visit.url(), headers=tenant.as_role("DOCTOR"), params=params)
    assert r.json()["version"] == 1
