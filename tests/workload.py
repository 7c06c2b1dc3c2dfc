"""A randomized front-desk workload over several tenants, and waiting for projections."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from uuid import UUID

import asyncpg
import httpx
from support import TenantFixture

from backend.plugins.workflows import checklist_id
from projections.read_models import ALL


async def workload(client: httpx.AsyncClient, tenants: list[TenantFixture]) -> int:
    """Registrations, changes, bookings and their lifecycle, invoices drafted and issued, a
    signed visit per tenant, then each tenant becomes a hospital and admits some of its
    patients; the last position."""
    rng = random.Random(7)
    last = 0
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=1)
    for tenant in tenants:
        staff = tenant.as_role("CLINIC_ADMIN")
        doc = (await client.post("/v1/practitioners", json={"name": "Dr A"}, headers=staff)).json()
        patients = []
        for i in range(6):
            body = {
                "given_name": f"P{i}",
                "family_name": rng.choice(["Lee", "Okafor", "Silva"]),
                "birth_date": "1980-01-01",
                "sex": "unknown",
                "phone": f"+1 555 {i:04d}",
            }
            patient = (await client.post("/v1/patients", json=body, headers=staff)).json()
            if rng.random() < 0.5:
                r = await client.patch(
                    f"/v1/patients/{patient['id']}", json={"phone": "+1 555 9999"}, headers=staff
                )
                patient = r.json()
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
                last = max(last, await _bill(client, staff, patient["id"], issue=i % 4 == 0))
            patients.append(patient["id"])
        last = max(last, await _visit(client, tenant, doc["id"], patient["id"]))
        last = max(last, await _admissions(client, tenant, patients, rng))
    return last


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
    """The tenant turns hospital with the cardiac specialty, admits three patients (each
    starting a pre-operative checklist), transfers one, discharges one and ticks a checklist
    step of the third."""
    admin = tenant.as_role("CLINIC_ADMIN")
    await client.patch("/v1/tenant/policy", json={"kind": "hospital"}, headers=admin)
    await client.put("/v1/tenant/specialties", json={"specialties": ["cardiac"]}, headers=admin)
    ward = (
        await client.post(
            "/v1/wards", json={"name": "W", "beds": ["1", "2", "3", "4"]}, headers=admin
        )
    ).json()
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
        admitted.append((await client.post("/v1/admissions", json=body, headers=admin)).json())
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
    return max(moved.json()["position"], done.json()["position"], ticked.json()["position"])


async def _bill(
    client: httpx.AsyncClient, staff: dict[str, str], patient_id: str, *, issue: bool
) -> int:
    """An invoice for the patient, issued or left in draft; the last position."""
    line = {"code": "CONSULT", "description": "Consultation", "quantity": 1, "unit_price": "80"}
    body = {"patient_id": patient_id, "lines": [line]}
    invoice = (await client.post("/v1/invoices", json=body, headers=staff)).json()
    if not issue:
        return int(invoice["position"])
    r = await client.post(f"/v1/invoices/{invoice['id']}/issue", headers=staff)
    return int(r.json()["position"])


async def wait_caught_up(projector_pool: asyncpg.Pool, position: int) -> None:
    for _ in range(500):
        behind = await projector_pool.fetchval(
            "SELECT count(*) FROM projection_checkpoints c, events e"
            " WHERE e.position = $1 AND (c.tx_id, c.position) < (e.tx_id, e.position)"
            " AND c.name = ANY($2)",
            position,
            [p.name for p in ALL],
        )
        if behind == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("projections did not catch up")
