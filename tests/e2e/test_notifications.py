"""Appointment reminders end to end: confirming an appointment queues one reminder (a reaction),
the dispatcher sends it through the fake channel, staff read it; templates, quiet hours, no
contact, roles and tenant isolation."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import httpx
from e2e_helpers import (
    assert_problem,
    create_patient,
    error_fields,
    now,
    when,
)
from notification_helpers import (
    confirmed_for,
    no_quiet_hours,
    notifications_of,
    set_policy,
    wait_for,
    wait_until,
)
from support import TenantFixture, bearer


async def test_a_confirmed_appointment_gets_one_reminder_sent(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await set_policy(
        client, tenant, timezone="Europe/Berlin", quiet_hours_start="00:00", quiet_hours_end="00:00"
    )
    patient = await create_patient(client, tenant, given_name="Ann", phone="+49 30 1234567")
    appointment = await confirmed_for(client, tenant, patient)
    items = await wait_for(client, tenant, patient["id"], "sent")
    assert len(items) == 1, items
    sent = items[0]
    assert sent["channel"] == "sms"
    assert sent["address"] == "+49301234567"  # E.164, whatever was typed
    assert sent["template"] == "appointment_reminder"
    assert sent["attempts"] == 1
    assert sent["provider_message_id"].startswith("sms-")
    assert sent["due_at"] is None
    start = dt.datetime.fromisoformat(appointment["start"]).astimezone(ZoneInfo("Europe/Berlin"))
    assert f"Ann {patient['family_name']}" in sent["body"]
    assert "Dr. Meredith Grey" in sent["body"]
    assert start.strftime("%Y-%m-%d %H:%M") in sent["body"]  # in the tenant's time zone

    r = await client.get(f"/v1/notifications/{sent['id']}", headers=tenant.as_role("NURSE"))
    assert r.status_code == 200, r.text
    assert r.json() == sent
    assert r.headers["ETag"] == f'"{sent["version"]}"'
    by_status = await notifications_of(client, tenant, patient["id"], status="sent")
    assert [n["id"] for n in by_status] == [sent["id"]]
    assert await notifications_of(client, tenant, patient["id"], status="queued") == []

    await asyncio.sleep(1)  # the reaction and the dispatcher had time to do anything twice
    again = await notifications_of(client, tenant, patient["id"])
    assert [(n["id"], n["status"], n["attempts"]) for n in again] == [(sent["id"], "sent", 1)]


async def test_a_reminder_due_in_quiet_hours_waits_for_their_end(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    moment = now()
    quiet_end = (moment + dt.timedelta(hours=1)).replace(second=0, microsecond=0)
    await set_policy(
        client,
        tenant,
        timezone="UTC",
        quiet_hours_start=(moment - dt.timedelta(hours=1)).strftime("%H:%M"),
        quiet_hours_end=quiet_end.strftime("%H:%M"),
    )
    patient = await create_patient(client, tenant, phone="+1 212 555 0100")
    await confirmed_for(client, tenant, patient)  # in 2 h: the reminder is due at once
    items = await wait_until(
        client, tenant, patient["id"], lambda n: when(n["send_after"]) == quiet_end, "deferred"
    )
    assert len(items) == 1
    assert items[0]["status"] == "queued"
    assert items[0]["due_at"] == items[0]["send_after"]
    await asyncio.sleep(1)
    assert (await notifications_of(client, tenant, patient["id"]))[0]["status"] == "queued"


async def test_a_patient_without_phone_or_email_is_escalated(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await no_quiet_hours(client, tenant)
    patient = await create_patient(client, tenant)
    await confirmed_for(client, tenant, patient)
    items = await wait_for(client, tenant, patient["id"], "escalated")
    assert len(items) == 1
    assert items[0]["escalation_reason"] == "no contact"
    assert items[0]["channel"] is None
    assert items[0]["attempts"] == 0


async def test_the_tenant_template_and_its_channel_are_used(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await no_quiet_hours(client, tenant)
    r = await client.put(
        "/v1/notification-templates/appointment_reminder",
        json={"channel": "email", "body": "Dear {patient_name}, {practitioner_name} expects you."},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["channel"] == "email"
    patient = await create_patient(
        client, tenant, given_name="Bea", phone="+1 212 555 0101", email="bea@example.org"
    )
    await confirmed_for(client, tenant, patient)
    items = await wait_for(client, tenant, patient["id"], "sent")
    assert items[0]["channel"] == "email"
    assert items[0]["address"] == "bea@example.org"
    assert items[0]["body"] == f"Dear Bea {patient['family_name']}, Dr. Meredith Grey expects you."
    assert items[0]["provider_message_id"].startswith("email-")


async def test_template_refusals(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    url = "/v1/notification-templates/appointment_reminder"
    admin = tenant.as_role("CLINIC_ADMIN")
    r = await client.put(url, json={"channel": "sms", "body": "Pay {balance} now"}, headers=admin)
    assert error_fields(r) == {"body"}
    assert "{balance}" in r.json()["errors"][0]["message"]
    r = await client.put(url, json={"channel": "fax", "body": "Hi"}, headers=admin)
    assert error_fields(r) == {"channel"}
    r = await client.put(url, json={"channel": "sms"}, headers=admin)
    assert error_fields(r) == {"body"}
    r = await client.put(
        "/v1/notification-templates/Not%20A%20Name",
        json={"channel": "sms", "body": "Hi"},
        headers=admin,
    )
    assert error_fields(r) == {"name"}
    r = await client.put(
        url, json={"channel": "sms", "body": "Hi"}, headers=tenant.as_role("RECEPTIONIST")
    )
    assert_problem(r, 403, "FORBIDDEN")


async def test_reads_are_for_staff_of_the_tenant(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    await no_quiet_hours(client, tenant)
    patient = await create_patient(client, tenant)
    await confirmed_for(client, tenant, patient)
    (item,) = await wait_for(client, tenant, patient["id"], "escalated")
    r = await client.get(
        f"/v1/notifications/{item['id']}", headers=other_tenant.as_role("CLINIC_ADMIN")
    )
    assert_problem(r, 404, "NOT_FOUND")
    r = await client.get(
        "/v1/notifications",
        params={"patient_id": patient["id"]},
        headers=other_tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.json()["items"] == []
    for role in ("PATIENT", "FINANCE_BILLING"):
        r = await client.get("/v1/notifications", headers=tenant.as_role(role))
        assert_problem(r, 403, "FORBIDDEN")
    r = await client.get(
        "/v1/notifications", params={"status": "lost"}, headers=tenant.as_role("NURSE")
    )
    assert error_fields(r) == {"status"}


async def test_reads_wait_for_min_position(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.put(
        "/v1/notification-templates/appointment_reminder",
        json={"channel": "sms", "body": "Hi {patient_name}"},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    position = r.json()["position"]
    r = await client.get(
        "/v1/notifications", params={"min_position": position}, headers=tenant.as_role("NURSE")
    )
    assert r.status_code == 200, r.text
    assert int(r.headers["X-Projection-Position"]) >= position


async def test_reaction_status(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    r = await client.get("/v1/reactions", headers=bearer(["PLATFORM_ADMIN"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["running"] is True
    reminder = next(x for x in body["reactions"] if x["name"] == "appointment-reminder")
    assert reminder["state"] == "running"
    assert reminder["last_error"] is None
    assert_problem(
        await client.get("/v1/reactions", headers=tenant.as_role("RECEPTIONIST")), 403, "FORBIDDEN"
    )
