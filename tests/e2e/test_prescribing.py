"""Prescribing through the API: only a practitioner of the clinic prescribes, a prescription is
stopped by an event, and duplicate therapy or too high a daily dose is answered with a warning
(across the patient's visits)."""

import asyncio

import httpx
from e2e_helpers import assert_problem, create_practitioner, error_fields
from support import TenantFixture
from visit_helpers import OpenVisit, ok, open_walk_in, send

DIAZEPAM = {"medication": "Diazepam", "dose": "5 mg", "route": "oral", "frequency": "tds"}


def _rules(answer: dict[str, object]) -> list[str]:
    warnings = answer["warnings"]
    assert isinstance(warnings, list)
    return [w["rule"] for w in warnings]


async def test_a_doctor_token_that_is_no_practitioner_of_the_clinic_cannot_prescribe(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    nobody = tenant.as_role("DOCTOR", actor="dr-nobody")
    assert_problem(
        await send(client, visit, "/prescriptions", DIAZEPAM, nobody), 403, "NOT_A_PRACTITIONER"
    )
    elsewhere = (await create_practitioner(client, other_tenant))["id"]
    foreign = tenant.as_role("DOCTOR", actor=elsewhere)
    assert_problem(
        await send(client, visit, "/prescriptions", DIAZEPAM, foreign), 403, "NOT_A_PRACTITIONER"
    )
    colleague = (await create_practitioner(client, tenant, "Dr. Cover"))["id"]
    as_colleague = tenant.as_role("DOCTOR", actor=colleague)
    await ok(client, visit, "/cover", {"reason": "on call"}, as_colleague)
    issued = await ok(client, visit, "/prescriptions", DIAZEPAM, as_colleague)
    assert issued["prescriptions"][0]["prescriber"] == colleague


async def test_duplicate_therapy_and_daily_dose_warn_across_the_patients_visits(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    first = await open_walk_in(client, tenant)
    answer = await ok(client, first, "/prescriptions", DIAZEPAM, first.doctor)
    assert answer["warnings"] == []
    again = await ok(client, first, "/prescriptions", DIAZEPAM, first.doctor)
    assert _rules(again) == ["duplicate_therapy"]
    assert answer["prescription_id"] in again["warnings"][0]["message"]

    second = await _second_visit(client, first)
    lorazepam = {**DIAZEPAM, "medication": "Lorazepam", "dose": "1 mg"}
    assert _rules(await ok(client, second, "/prescriptions", lorazepam, second.doctor)) == [
        "duplicate_therapy",
        "duplicate_therapy",
    ]
    overdose = {
        "medication": "Paracetamol",
        "dose": "5000 mg",
        "route": "oral",
        "frequency": "4x daily",
    }
    warned = await ok(client, second, "/prescriptions", overdose, second.doctor)
    assert _rules(warned) == ["max_daily_dose"]
    assert "20000 mg" in warned["warnings"][0]["message"]


async def test_a_stopped_prescription_stays_listed_and_no_longer_counts(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    issued = await ok(client, visit, "/prescriptions", DIAZEPAM, visit.doctor)
    prescription = issued["prescription_id"]
    await ok(
        client,
        visit,
        "/note",
        {"subjective": "anxious", "objective": "", "assessment": "", "plan": ""},
        "DOCTOR",
        "PUT",
    )
    await ok(client, visit, "/sign-off", None, visit.doctor)
    path = f"/prescriptions/{prescription}/discontinue"
    assert_problem(await send(client, visit, path, {"reason": "drowsy"}, "NURSE"), 403, "FORBIDDEN")
    nobody = visit.tenant.as_role("DOCTOR", actor="dr-nobody")
    assert_problem(
        await send(client, visit, path, {"reason": "drowsy"}, nobody), 403, "NOT_A_PRACTITIONER"
    )
    assert error_fields(await send(client, visit, path, {"reason": ""}, visit.doctor)) == {"reason"}
    stopped = await ok(client, visit, path, {"reason": "drowsy"}, visit.doctor)
    [line] = stopped["prescriptions"]
    assert (line["status"], line["stopped"]["reason"], line["stopped"]["by"]) == (
        "discontinued",
        "drowsy",
        visit.doctor_id,
    )
    cancel = f"/prescriptions/{prescription}/cancel"
    r = await send(client, visit, cancel, {"reason": "wrong"}, visit.doctor)
    assert_problem(r, 409, "INVALID_STATUS_TRANSITION")
    got = await client.get(
        visit.url(), params={"min_position": stopped["position"]}, headers=visit.doctor
    )
    assert got.json()["prescriptions"] == stopped["prescriptions"]

    later = await _second_visit(client, visit)
    assert (await ok(client, later, "/prescriptions", DIAZEPAM, later.doctor))["warnings"] == []


async def test_a_cancelled_prescription_no_longer_counts(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    prescription = (await ok(client, visit, "/prescriptions", DIAZEPAM, visit.doctor))[
        "prescription_id"
    ]
    cancelled = await ok(
        client,
        visit,
        f"/prescriptions/{prescription}/cancel",
        {"reason": "wrong patient"},
        visit.doctor,
    )
    assert cancelled["prescriptions"][0]["status"] == "cancelled"
    assert (await ok(client, visit, "/prescriptions", DIAZEPAM, visit.doctor))["warnings"] == []


async def test_two_prescriptions_at_once_see_each_other(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """Both write the patient's medications stream: the second is decided again on the first."""
    visit = await open_walk_in(client, tenant)
    both = await asyncio.gather(
        *(send(client, visit, "/prescriptions", DIAZEPAM, visit.doctor) for _ in "ab")
    )
    assert [r.status_code for r in both] == [200, 200], [r.text for r in both]
    assert sorted(len(r.json()["warnings"]) for r in both) == [0, 1]


async def _second_visit(client: httpx.AsyncClient, first: OpenVisit) -> OpenVisit:
    """Another visit of the same patient, with the same doctor."""
    r = await client.post(
        "/v1/visits",
        json={"patient_id": first.patient_id, "practitioner_id": first.doctor_id},
        headers=first.tenant.as_role("RECEPTIONIST"),
    )
    assert r.status_code == 201, r.text
    return OpenVisit(first.tenant, r.json()["id"], first.patient_id, first.doctor_id, r.json())
