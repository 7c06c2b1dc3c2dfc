"""A visit and what it is opened from: the appointment knows its visit (no cancel, no no-show
once the patient came), and a patient's second open visit is answered with a warning."""

import asyncio
import datetime as dt
from typing import Any

import httpx
from e2e_helpers import act_raw, assert_problem, booked, now
from support import TenantFixture
from visit_helpers import NOTE, ok, open_walk_in

RACES = 6


async def _open_from(
    client: httpx.AsyncClient, tenant: TenantFixture, appointment: dict[str, Any]
) -> httpx.Response:
    body = {
        "patient_id": appointment["patient_id"],
        "practitioner_id": appointment["practitioner_id"],
        "appointment_id": appointment["id"],
    }
    return await client.post("/v1/visits", json=body, headers=tenant.as_role("NURSE"))


async def test_an_appointment_with_a_visit_is_neither_cancelled_nor_a_no_show(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    appointment = await booked(
        client,
        tenant,
        now() - dt.timedelta(minutes=5),
        confirm=True,
        back_charting_reason="charted late",
    )
    opened = await _open_from(client, tenant, appointment)
    assert opened.status_code == 201, opened.text
    cancel = await act_raw(client, tenant, appointment["id"], "cancel", {"reason": "ran late"})
    assert_problem(cancel, 409, "APPOINTMENT_HAS_VISIT")
    no_show = await act_raw(client, tenant, appointment["id"], "no-show")
    assert_problem(no_show, 409, "APPOINTMENT_HAS_VISIT")
    r = await client.get(
        f"/v1/appointments/{appointment['id']}",
        params={"min_position": opened.json()["position"]},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["visit_id"]) == ("confirmed", opened.json()["id"])


async def test_a_cancel_racing_the_opening_of_its_visit_never_both_succeed(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """Both write the appointment stream: the loser is decided again on the winner's event."""
    start = now() + dt.timedelta(minutes=10)
    appointments = [await booked(client, tenant, start, confirm=True) for _ in range(RACES)]
    outcomes = await asyncio.gather(
        *(
            asyncio.gather(
                _open_from(client, tenant, a),
                act_raw(client, tenant, a["id"], "cancel", {"reason": "called off"}),
            )
            for a in appointments
        )
    )
    for opened, cancelled in outcomes:
        statuses = (opened.status_code, cancelled.status_code)
        assert statuses in ((201, 409), (409, 200)), (opened.text, cancelled.text)
        loser = cancelled if opened.status_code == 201 else opened
        expected = (
            "APPOINTMENT_HAS_VISIT" if opened.status_code == 201 else "APPOINTMENT_NOT_CHECKED_IN"
        )
        assert_problem(loser, 409, expected)


async def test_a_second_open_visit_for_a_patient_is_answered_with_a_warning(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    first = await open_walk_in(client, tenant)
    assert first.body["warnings"] == []
    again = {"patient_id": first.patient_id, "practitioner_id": first.doctor_id}
    staff = tenant.as_role("RECEPTIONIST")
    second = await client.post("/v1/visits", json=again, headers=staff)
    assert second.status_code == 201, second.text
    [warning] = second.json()["warnings"]
    assert warning["rule"] == "second_open_visit" and first.id in warning["message"]

    await ok(client, first, "/note", NOTE, "DOCTOR", "PUT")
    await ok(client, first, "/sign-off", None, first.doctor)
    third = await client.post("/v1/visits", json=again, headers=staff)
    [warning] = third.json()["warnings"]
    assert first.id not in warning["message"] and second.json()["id"] in warning["message"]


async def test_two_visits_opened_at_once_for_one_patient_warn_once(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    first = await open_walk_in(client, tenant)
    await ok(client, first, "/note", NOTE, "DOCTOR", "PUT")
    await ok(client, first, "/sign-off", None, first.doctor)
    body = {"patient_id": first.patient_id, "practitioner_id": first.doctor_id}
    staff = tenant.as_role("RECEPTIONIST")
    both = await asyncio.gather(
        *(client.post("/v1/visits", json=body, headers=staff) for _ in "ab")
    )
    assert [r.status_code for r in both] == [201, 201]
    assert sorted(len(r.json()["warnings"]) for r in both) == [0, 1]
