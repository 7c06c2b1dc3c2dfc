"""Reminders follow their appointment, through the API: an appointment cancelled, rebooked or
checked in takes its pending reminder with it; a slot already past gets none; a reminder that
the quiet hours would hold back until after the visit is withdrawn instead."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from dayflow_helpers import reaction_passed
from e2e_helpers import act, book, create_patient, create_practitioner, now, when
from notification_helpers import (
    no_quiet_hours,
    notifications_after_reactions,
    notifications_of,
    set_policy,
    wait_for,
)
from support import TenantFixture


async def confirmed_at(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    patient: dict[str, Any],
    practitioner: dict[str, Any],
    start: dt.datetime,
) -> dict[str, Any]:
    past = {"back_charting_reason": "charted late"} if start < now() else {}
    end = start + dt.timedelta(minutes=30)
    r = await book(client, tenant, patient["id"], practitioner["id"], start, end, **past)
    assert r.status_code == 201, r.text
    return await act(client, tenant, r.json()["id"], "confirm")


async def test_cancel_and_rebook_leaves_one_reminder_for_the_new_time(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await no_quiet_hours(client, tenant)
    patient = await create_patient(client, tenant, phone="+1 212 555 0101")
    doctor = await create_practitioner(client, tenant, "Dr. Alice Grey")
    first_start = now().replace(microsecond=0) + dt.timedelta(days=3)
    first = await confirmed_at(client, tenant, patient, doctor, first_start)
    await wait_for(client, tenant, patient["id"], "queued")
    await act(client, tenant, first["id"], "cancel", {"reason": "moved to the afternoon"})
    second = await confirmed_at(
        client, tenant, patient, doctor, first_start + dt.timedelta(hours=5)
    )
    await wait_for(client, tenant, patient["id"], "withdrawn")
    items = await wait_for(client, tenant, patient["id"], "queued")

    by_appointment = {n["appointment_id"]: n for n in items}
    assert set(by_appointment) == {first["id"], second["id"]}
    old, new = by_appointment[first["id"]], by_appointment[second["id"]]
    assert (old["status"], old["withdrawal_reason"], old["due_at"]) == (
        "withdrawn",
        "appointment cancelled",
        None,
    )
    assert new["status"] == "queued"
    assert when(new["send_after"]) == when(second["start"]) - dt.timedelta(hours=24)
    pending = await notifications_of(client, tenant, patient["id"], status="queued")
    assert [n["id"] for n in pending] == [new["id"]]


async def test_a_checked_in_patient_gets_no_reminder(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await no_quiet_hours(client, tenant)
    patient = await create_patient(client, tenant, phone="+1 212 555 0102")
    doctor = await create_practitioner(client, tenant)
    appointment = await confirmed_at(client, tenant, patient, doctor, now() + dt.timedelta(days=3))
    await wait_for(client, tenant, patient["id"], "queued")
    await act(client, tenant, appointment["id"], "check-in", {"override_reason": "walked in"})
    (item,) = await wait_for(client, tenant, patient["id"], "withdrawn")
    assert item["withdrawal_reason"] == "patient checked in"
    assert item["attempts"] == 0 and item["provider_message_id"] is None


async def test_a_slot_already_past_gets_no_reminder(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await no_quiet_hours(client, tenant)
    patient = await create_patient(client, tenant, phone="+1 212 555 0103")
    doctor = await create_practitioner(client, tenant)
    for ago in (dt.timedelta(hours=2), dt.timedelta(days=7)):
        confirmed = await confirmed_at(client, tenant, patient, doctor, now() - ago)
        await reaction_passed(client, tenant, "appointment-reminder", confirmed["position"])
    assert await notifications_after_reactions(client, tenant, patient["id"]) == []


async def test_quiet_hours_lasting_past_the_visit_withdraw_its_reminder(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """Booked late for early next morning: the reminder is due at once, in quiet hours that end
    only after the visit has begun (the issue's 05:30, 06:20 and 07:20 visits, reminded at
    08:00)."""
    moment = now()
    await set_policy(
        client,
        tenant,
        timezone="UTC",
        quiet_hours_start=(moment - dt.timedelta(hours=1)).strftime("%H:%M"),
        quiet_hours_end=(moment + dt.timedelta(hours=3)).strftime("%H:%M"),
    )
    patient = await create_patient(client, tenant, phone="+1 212 555 0104")
    doctor = await create_practitioner(client, tenant)
    await confirmed_at(client, tenant, patient, doctor, moment + dt.timedelta(hours=2))
    (item,) = await wait_for(client, tenant, patient["id"], "withdrawn")
    assert item["withdrawal_reason"] == "quiet hours last until after the start"
    assert item["attempts"] == 0
