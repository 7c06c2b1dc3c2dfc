"""Confirm, cancel, check in, complete, no-show: the appointment's states and their rules."""

import datetime as dt
import uuid

import httpx
from e2e_helpers import act, act_raw, assert_problem, booked, error_fields, now, when
from support import TenantFixture, bearer

SOON = dt.timedelta(minutes=10)


async def test_confirm(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    appt = await booked(client, tenant, now() + dt.timedelta(days=1))
    confirmed = await act(client, tenant, appt["id"], "confirm")
    assert (confirmed["status"], confirmed["version"]) == ("confirmed", 2)
    again = await act_raw(client, tenant, appt["id"], "confirm")
    assert_problem(again, 409, "INVALID_STATUS_TRANSITION")


async def test_cancel_needs_a_reason(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    appt = await booked(client, tenant, now() + dt.timedelta(days=1))
    for body in (None, {}, {"reason": ""}, {"reason": "   "}):
        r = await act_raw(client, tenant, appt["id"], "cancel", body)
        assert r.status_code == 422, (body, r.text)
    assert error_fields(await act_raw(client, tenant, appt["id"], "cancel", {})) == {"reason"}
    got = await client.get(
        f"/v1/appointments/{appt['id']}",
        params={"min_position": appt["position"]},
        headers=tenant.as_role("NURSE"),
    )
    assert got.json()["status"] == "requested"


async def test_check_in_before_confirm_is_refused(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    appt = await booked(client, tenant, now() + SOON)
    r = await act_raw(client, tenant, appt["id"], "check-in")
    assert_problem(r, 409, "APPOINTMENT_NOT_CONFIRMED")


async def test_check_in_inside_the_window(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    appt = await booked(client, tenant, now() + SOON, confirm=True)
    before = now()
    checked_in = await act(client, tenant, appt["id"], "check-in")
    assert checked_in["status"] == "checked_in"
    assert before <= when(checked_in["checked_in_at"]) <= now()
    assert checked_in["checkin_override_reason"] is None
    again = await act_raw(client, tenant, appt["id"], "check-in")
    assert_problem(again, 409, "ALREADY_CHECKED_IN")


async def test_check_in_far_outside_the_window_is_refused(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    appt = await booked(client, tenant, now() + dt.timedelta(days=3), confirm=True)
    r = await act_raw(client, tenant, appt["id"], "check-in")
    assert_problem(r, 409, "OUTSIDE_CHECKIN_WINDOW")
    blank = await act_raw(client, tenant, appt["id"], "check-in", {"override_reason": "  "})
    assert_problem(blank, 409, "OUTSIDE_CHECKIN_WINDOW")


async def test_window_edges(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    """Opens 30 min before the start and closes 2 h after it (the tenant defaults)."""
    early = await booked(client, tenant, now() + dt.timedelta(minutes=35), confirm=True)
    assert_problem(
        await act_raw(client, tenant, early["id"], "check-in"), 409, "OUTSIDE_CHECKIN_WINDOW"
    )
    opening = await booked(client, tenant, now() + dt.timedelta(minutes=29), confirm=True)
    assert (await act_raw(client, tenant, opening["id"], "check-in")).status_code == 200
    closing = await booked(
        client,
        tenant,
        now() - dt.timedelta(minutes=119),
        confirm=True,
        back_charting_reason="charted late",
    )
    assert (await act_raw(client, tenant, closing["id"], "check-in")).status_code == 200
    late = await booked(
        client,
        tenant,
        now() - dt.timedelta(minutes=125),
        confirm=True,
        back_charting_reason="charted late",
    )
    assert_problem(
        await act_raw(client, tenant, late["id"], "check-in"), 409, "OUTSIDE_CHECKIN_WINDOW"
    )


async def test_staff_override_is_audited(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    appt = await booked(client, tenant, now() + dt.timedelta(days=3), confirm=True)
    reason = "patient came early for lab work"
    checked_in = await act(client, tenant, appt["id"], "check-in", {"override_reason": reason})
    assert (checked_in["status"], checked_in["checkin_override_reason"]) == ("checked_in", reason)
    for role in ("AUDITOR", "CLINIC_ADMIN"):
        r = await client.get(
            f"/v1/streams/appointment/{appt['id']}/events", headers=tenant.as_role(role)
        )
        assert r.status_code == 200, r.text
        (event,) = [e for e in r.json()["events"] if e["type"] == "PatientCheckedIn"]
        assert event["data"]["override_reason"] == reason
        assert event["actor"] == "tester"


async def test_complete_after_check_in(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    appt = await booked(client, tenant, now() + SOON, confirm=True)
    premature = await act_raw(client, tenant, appt["id"], "complete")
    assert_problem(premature, 409, "INVALID_STATUS_TRANSITION")
    await act(client, tenant, appt["id"], "check-in")
    completed = await act(client, tenant, appt["id"], "complete")
    assert (completed["status"], completed["version"]) == ("completed", 4)
    cancel = await act_raw(client, tenant, appt["id"], "cancel", {"reason": "too late"})
    assert_problem(cancel, 409, "INVALID_STATUS_TRANSITION")


async def test_no_show_on_a_past_confirmed_appointment(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    appt = await booked(
        client,
        tenant,
        now() - dt.timedelta(hours=2),
        confirm=True,
        back_charting_reason="charted late",
    )
    marked = await act(client, tenant, appt["id"], "no-show")
    assert marked["status"] == "no_show"
    got = await client.get(
        f"/v1/appointments/{appt['id']}",
        params={"min_position": marked["position"]},
        headers=tenant.as_role("AUDITOR"),
    )
    assert (got.json()["status"], got.json()["version"]) == ("no_show", 3)


async def test_no_show_before_the_start_is_refused(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    appt = await booked(client, tenant, now() + dt.timedelta(hours=3), confirm=True)
    r = await act_raw(client, tenant, appt["id"], "no-show")
    assert_problem(r, 409, "APPOINTMENT_NOT_STARTED")


async def test_commands_on_unknown_or_foreign_appointments_are_404(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    appt = await booked(client, tenant, now() + dt.timedelta(days=1))
    for target in (str(uuid.uuid4()), appt["id"]):
        for action in ("confirm", "complete", "no-show"):
            assert_problem(await act_raw(client, other_tenant, target, action), 404, "NOT_FOUND")
        r = await client.get(
            f"/v1/appointments/{target}",
            params={"min_position": appt["position"]},
            headers=other_tenant.as_role("DOCTOR"),
        )
        assert_problem(r, 404, "NOT_FOUND")


async def test_if_match_guards_appointment_commands(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    appt = await booked(client, tenant, now() + dt.timedelta(days=1))
    headers = {**tenant.as_role("RECEPTIONIST"), "If-Match": '"2"'}
    url = f"/v1/appointments/{appt['id']}/confirm"
    assert_problem(await client.post(url, headers=headers), 412, "VERSION_CONFLICT")
    r = await client.post(url, headers={**headers, "If-Match": '"1"'})
    assert r.status_code == 200, r.text


async def test_patient_checks_in_only_their_own_appointment_without_override(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    def as_patient(patient_id: str) -> dict[str, str]:
        return bearer(["PATIENT"], tenant.id, actor=patient_id)

    soon = await booked(client, tenant, now() + SOON, confirm=True)
    url = f"/v1/appointments/{soon['id']}/check-in"
    stranger = await client.post(url, headers=as_patient(str(uuid.uuid4())))
    assert_problem(stranger, 404, "NOT_FOUND")
    own = await client.post(url, headers=as_patient(soon["patient_id"]))
    assert own.status_code == 200, own.text
    assert own.json()["status"] == "checked_in"

    later = await booked(client, tenant, now() + dt.timedelta(days=3), confirm=True)
    r = await client.post(
        f"/v1/appointments/{later['id']}/check-in",
        json={"override_reason": "I am here early"},
        headers=as_patient(later["patient_id"]),
    )
    assert_problem(r, 409, "OUTSIDE_CHECKIN_WINDOW")
    r = await client.post(
        f"/v1/appointments/{later['id']}/confirm", headers=as_patient(later["patient_id"])
    )
    assert_problem(r, 403, "FORBIDDEN")
