"""Who may do what on a visit (backend/visits/ownership.py), per role: the note, prescriptions
and lab orders are its doctor's, or a covering doctor's once the cover is recorded; nurses
and doctors chart vitals; sign-off stays with the visit's doctor."""

from __future__ import annotations

import httpx
from e2e_helpers import assert_problem, create_practitioner
from support import TenantFixture
from visit_helpers import NOTE, OpenVisit, events_of, ok, open_walk_in, send

DRUG = {"medication": "Amoxicillin", "dose": "500 mg", "route": "oral", "frequency": "tds"}
LAB = {"test_code": "CBC", "test_name": "Full blood count"}
VITALS = {"heart_rate": 72}
REFUSED_BY_ROLE = ("NURSE", "RECEPTIONIST", "CLINIC_ADMIN", "LAB_TECHNICIAN", "AUDITOR")


async def _colleague(client: httpx.AsyncClient, visit: OpenVisit) -> dict[str, str]:
    """Another practitioner of the clinic, as a DOCTOR: not the visit's doctor."""
    colleague = await create_practitioner(client, visit.tenant, "Dr. Colleague")
    return visit.tenant.as_role("DOCTOR", actor=colleague["id"])


async def test_the_note_prescriptions_and_orders_are_the_visit_doctors(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    colleague = await _colleague(client, visit)
    for suffix, body, method in (
        ("/note", NOTE, "PUT"),
        ("/prescriptions", DRUG, "POST"),
        ("/lab-orders", LAB, "POST"),
    ):
        r = await send(client, visit, suffix, body, colleague, method)
        assert_problem(r, 403, "NOT_VISIT_OWNER")
        for role in REFUSED_BY_ROLE:
            assert_problem(await send(client, visit, suffix, body, role, method), 403, "FORBIDDEN")
        done = await ok(client, visit, suffix, body, visit.doctor, method)
    read = f"?min_position={done['position']}"  # the read model has the doctor's last command
    prescription = (await ok(client, visit, read, None, "AUDITOR", "GET"))["prescriptions"][0]
    stop = f"/prescriptions/{prescription['prescription_id']}/discontinue"
    r = await send(client, visit, stop, {"reason": "rash"}, colleague)
    assert_problem(r, 403, "NOT_VISIT_OWNER")
    note = (await ok(client, visit, read, None, "AUDITOR", "GET"))["note"]
    assert note == NOTE  # the colleague's refused note changed nothing


async def test_a_covering_doctor_acts_as_the_visit_doctor_once_recorded(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    colleague = await _colleague(client, visit)
    covered = await ok(client, visit, "/cover", {"reason": "on call tonight"}, colleague)
    colleague_id = colleague_sub = covered["covering"][0]
    assert covered["covering"] == [colleague_id]
    [taken] = await events_of(client, visit, "VisitCoverTaken")
    assert (taken["data"]["doctor"], taken["data"]["reason"]) == (colleague_sub, "on call tonight")
    assert taken["actor"] == colleague_sub
    again = await ok(client, visit, "/cover", {"reason": "still"}, colleague)
    assert again["version"] == covered["version"]  # covering already: nothing recorded
    await ok(client, visit, "/note", NOTE, colleague, "PUT")
    issued = await ok(client, visit, "/prescriptions", DRUG, colleague)
    assert issued["prescriptions"][0]["prescriber"] == colleague_id
    await ok(client, visit, "/lab-orders", LAB, colleague)
    stop = f"/prescriptions/{issued['prescription_id']}/cancel"
    await ok(client, visit, stop, {"reason": "wrong patient"}, colleague)
    # Sign-off stays with the visit's own doctor.
    assert_problem(await send(client, visit, "/sign-off", None, colleague), 403, "NOT_VISIT_OWNER")
    await ok(client, visit, "/sign-off", None, visit.doctor)


async def test_who_may_take_cover(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    visit = await open_walk_in(client, tenant)
    reason = {"reason": "handover"}
    for role in REFUSED_BY_ROLE:
        assert_problem(await send(client, visit, "/cover", reason, role), 403, "FORBIDDEN")
    made_up = tenant.as_role("DOCTOR", actor="dr-nobody")
    r = await send(client, visit, "/cover", reason, made_up)
    assert_problem(r, 403, "NOT_A_PRACTITIONER")
    r = await send(client, visit, "/cover", {"reason": " "}, await _colleague(client, visit))
    assert_problem(r, 422, "VALIDATION_ERROR")
    own = await ok(client, visit, "/cover", reason, visit.doctor)
    assert own["covering"] == []  # the visit's doctor needs no cover
    assert await events_of(client, visit, "VisitCoverTaken") == []


async def test_nurses_and_doctors_chart_vitals(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    colleague = await _colleague(client, visit)
    for who in ("NURSE", visit.doctor, colleague):
        await ok(client, visit, "/vitals", VITALS, who)
    for role in ("RECEPTIONIST", "CLINIC_ADMIN", "LAB_TECHNICIAN", "AUDITOR"):
        assert_problem(await send(client, visit, "/vitals", VITALS, role), 403, "FORBIDDEN")
