"""A randomized front-desk workload over several tenants, and waiting for projections."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from uuid import UUID, uuid4

import asyncpg
import httpx
from billing_helpers import capture_body, deliver
from support import TenantFixture

from backend.catalog import READ_MODELS as ALL
from backend.specialties.workflows import checklist_id


async def _waitlist(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    practitioner_id: str,
    patient_id: str,
    start: dt.datetime,
    rng: random.Random,
) -> None:
    """The patient waits for a practitioner nobody books (no slot is freed: no reaction
    appends after the workload), and may leave the list again."""
    joining = {
        "patient_id": patient_id,
        "practitioner_id": practitioner_id,
        "from_date": start.date().isoformat(),
        "to_date": (start.date() + dt.timedelta(days=7)).isoformat(),
    }
    entry = (await client.post("/v1/waitlist", json=joining, headers=staff)).json()
    if rng.random() < 0.3:
        await client.delete(f"/v1/waitlist/{entry['id']}", headers=staff)


async def workload(client: httpx.AsyncClient, tenants: list[TenantFixture]) -> int:
    """Registrations, changes, bookings and their lifecycle, invoices drafted, issued and paid, a
    signed visit per tenant, then each tenant becomes a hospital and admits some of its
    patients; the last position."""
    rng = random.Random(7)
    last = 0
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=1)
    for tenant in tenants:
        staff = tenant.as_role("CLINIC_ADMIN")
        doc = (await client.post("/v1/practitioners", json={"name": "Dr A"}, headers=staff)).json()
        waiting_for = (
            await client.post("/v1/practitioners", json={"name": "Dr W"}, headers=staff)
        ).json()
        patients = []
        for i in range(6):
            body = {
                "given_name": f"P{i}",
                "family_name": rng.choice(["Lee", "Okafor", "Silva"]),
                "birth_date": "1980-01-01",
                "sex": "unknown",
                "phone": f"+1 212 555 {i:04d}",
            }
            patient = (await client.post("/v1/patients", json=body, headers=staff)).json()
            if rng.random() < 0.5:
                r = await client.patch(
                    f"/v1/patients/{patient['id']}",
                    json={"phone": "+1 212 555 9999"},
                    headers=staff,
                )
                patient = r.json()
            await _waitlist(client, staff, waiting_for["id"], patient["id"], start, rng)
            slot = start + dt.timedelta(minutes=30 * i)
            booking = {
                "patient_id": patient["id"],
                "practitioner_id": doc["id"],
                "start": slot.isoformat(),
                "end": (slot + dt.timedelta(minutes=30)).isoformat(),
            }
            appointment = (
                await client.post("/v1/appointments", json=booking, headers=staff)
            ).json()
            for action in rng.sample(["confirm", "cancel"], k=rng.randint(0, 1)):
                extra = {"reason": "changed plans"} if action == "cancel" else None
                await client.post(
                    f"/v1/appointments/{appointment['id']}/{action}", json=extra, headers=staff
                )
            last = max(last, patient["position"], appointment["position"])
            if i % 2 == 0:
                bill = _bill(client, tenant, patient["id"], issue=i % 4 == 0, pay=i == 0)
                last = max(last, await bill)
            patients.append(patient["id"])
        last = max(last, await _holds(client, tenant, doc["id"], patients[0], start))
        last = max(last, await _visit(client, tenant, doc["id"], patient["id"]))
        last = max(last, await _admissions(client, tenant, patients, rng))
    return last


async def _holds(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    doc_id: str,
    patient_id: str,
    before: dt.datetime,
) -> int:
    """Automatic no-shows switched on, two holds before the day's bookings, one confirmed;
    the last position."""
    staff = tenant.as_role("RECEPTIONIST")
    admin = tenant.as_role("CLINIC_ADMIN")
    r = await client.patch("/v1/tenant/policy", json={"no_show_after_min": 30}, headers=admin)
    last = int(r.json()["position"])
    for hours_before in (3, 2):
        start = before - dt.timedelta(hours=hours_before)
        body = {
            "practitioner_id": doc_id,
            "start": start.isoformat(),
            "end": (start + dt.timedelta(minutes=30)).isoformat(),
        }
        held = (await client.post("/v1/holds", json=body, headers=staff)).json()
        last = max(last, held["position"])
    r = await client.post(
        f"/v1/holds/{held['id']}/confirm",
        json={"patient_id": patient_id},
        headers=staff,
    )
    return max(last, int(r.json()["position"]))


async def _visit(
    client: httpx.AsyncClient, tenant: TenantFixture, doc_id: str, patient_id: str
) -> int:
    """A walk-in visit charted and signed off by its doctor; its last position."""
    doctor = tenant.as_role("DOCTOR", actor=doc_id)
    body = {"patient_id": patient_id, "practitioner_id": doc_id}
    visit = (await client.post("/v1/visits", json=body, headers=doctor)).json()
    note = {"subjective": "cough", "objective": "clear", "assessment": "cold", "plan": "rest"}
    service = {"code": "CONS", "description": "Consultation", "quantity": 1, "unit_price": "40"}
    steps = [("PUT", "note", note), ("POST", "services", service)]
    steps += [("POST", "vitals", {"heart_rate": 70}), ("POST", "sign-off", None)]
    for method, action, payload in steps:
        r = await client.request(
            method, f"/v1/visits/{visit['id']}/{action}", json=payload, headers=doctor
        )
    position: int = r.json()["position"]
    return position


async def _admissions(
    client: httpx.AsyncClient, tenant: TenantFixture, patients: list[str], rng: random.Random
) -> int:
    """The tenant turns hospital with the cardiac and diabetes specialties (one patient has an
    HbA1c, so the worklist has rows), admits three patients (each starting a pre-operative
    checklist), transfers one, discharges one, ticks a checklist step of the third and merges
    a duplicate into the diabetes patient."""
    admin = tenant.as_role("CLINIC_ADMIN")
    await client.patch("/v1/tenant/policy", json={"kind": "hospital"}, headers=admin)
    await client.put(
        "/v1/tenant/specialties", json={"specialties": ["cardiac", "diabetes"]}, headers=admin
    )
    r = await client.patch(  # a diabetes patient: the worklist has their recalls
        f"/v1/patients/{patients[0]}",
        json={"specialty_data": {"diabetes": {"hba1c": rng.randint(40, 90)}}},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        "/v1/wards",
        json={"name": f"W-{uuid4().hex[:8]}", "beds": ["1", "2", "3", "4"]},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    ward = r.json()
    admitted = []
    for patient, bed in zip(rng.sample(patients, k=3), ["1", "2", "3"], strict=True):
        body = {
            "patient_id": patient,
            "ward_id": ward["id"],
            "bed": bed,
            "reason": "observation",
            "specialty": "cardiac",
            "specialty_data": {"cardiac": {"ejection_fraction": rng.randint(20, 70)}},
        }
        r = await client.post("/v1/admissions", json=body, headers=admin)
        assert r.status_code == 201, r.text
        admitted.append(r.json())
    doctor = tenant.as_role("DOCTOR")
    moved = await client.post(
        f"/v1/admissions/{admitted[0]['id']}/transfer",
        json={"ward_id": ward["id"], "bed": "4"},
        headers=doctor,
    )
    done = await client.post(
        f"/v1/admissions/{admitted[1]['id']}/discharge",
        json={"disposition": "home"},
        headers=doctor,
    )
    checklist = checklist_id(UUID(admitted[2]["id"]), "cardiac", "pre_op_checklist")
    ticked = await client.post(
        f"/v1/checklists/{checklist}/steps/consent_signed", headers=tenant.as_role("NURSE")
    )
    merged = await _merge(client, tenant, patients[1], patients[0], rng)
    return max(moved.json()["position"], done.json()["position"], ticked.json()["position"], merged)


async def _merge(
    client: httpx.AsyncClient, tenant: TenantFixture, duplicate: str, kept: str, rng: random.Random
) -> int:
    """The duplicate, with an HbA1c of its own (its worklist rows), merged into the kept
    record (the diabetes patient): the worklist keeps the person once; the last position."""
    admin = tenant.as_role("CLINIC_ADMIN")
    r = await client.patch(
        f"/v1/patients/{duplicate}",
        json={"specialty_data": {"diabetes": {"hba1c": rng.randint(40, 90)}}},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    body = {"into": kept, "reason": "the same person registered twice"}
    r = await client.post(f"/v1/patients/{duplicate}/merge", json=body, headers=admin)
    assert r.status_code == 200, r.text
    return int(r.json()["position"])


async def _bill(
    client: httpx.AsyncClient, tenant: TenantFixture, patient_id: str, *, issue: bool, pay: bool
) -> int:
    """An invoice for the patient, left in draft or issued, and paid through the gateway's
    webhook if `pay`; the last position."""
    staff = tenant.as_role("CLINIC_ADMIN")
    line = {"code": "CONSULT", "description": "Consultation", "quantity": 1, "unit_price": "80"}
    body = {"patient_id": patient_id, "lines": [line]}
    invoice = (await client.post("/v1/invoices", json=body, headers=staff)).json()
    if not issue:
        return int(invoice["position"])
    r = await client.post(f"/v1/invoices/{invoice['id']}/issue", headers=staff)
    assert r.status_code == 200, r.text
    if not pay:
        return int(r.json()["position"])
    paid = await deliver(client, capture_body(tenant, invoice["id"], "80.00"))
    assert paid.status_code == 200, paid.text
    return int(paid.json()["position"])


async def wait_caught_up(projector_pool: asyncpg.Pool, position: int) -> None:
    for _ in range(500):
        behind = await projector_pool.fetchval(
            "SELECT count(*) FROM projection_progress c, events e"
            " WHERE e.position = $1 AND (c.tx_id, c.position) < (e.tx_id, e.position)"
            " AND c.name = ANY($2)",
            position,
            [p.name for p in ALL],
        )
        if behind == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("projections did not catch up")
