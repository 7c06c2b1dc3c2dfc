"""Check-in by QR code: the site's rotating token, the patient's scan, its refusals, a choice
among several appointments today and the attempts limited per patient in Redis."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from e2e_helpers import (
    act,
    assert_problem,
    at_midday,
    book,
    create_patient,
    create_practitioner,
    nearest_midnight,
    now,
    set_policy,
    zone_at_hour,
)
from support import TenantFixture

from backend.scheduling.qr_tokens import Rotation, base_key


async def site_token(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    r = await client.get("/v1/check-in/token", headers=tenant.as_role("RECEPTIONIST"))
    assert r.status_code == 200, r.text
    token: str = r.json()["token"]
    return token


async def confirmed(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    patient: dict[str, Any],
    start: dt.datetime,
    back_charting_reason: str | None = None,
) -> dict[str, Any]:
    practitioner = await create_practitioner(client, tenant)
    past = {} if back_charting_reason is None else {"back_charting_reason": back_charting_reason}
    end = start + dt.timedelta(minutes=15)
    r = await book(client, tenant, patient["id"], practitioner["id"], start, end, **past)
    assert r.status_code == 201, r.text
    return await act(client, tenant, r.json()["id"], "confirm")


async def scan(
    client: httpx.AsyncClient, tenant: TenantFixture, patient_id: str, **body: Any
) -> httpx.Response:
    return await client.post(
        "/v1/check-in/qr", json=body, headers=tenant.as_role("PATIENT", actor=patient_id)
    )


async def test_a_patient_checks_in_by_scanning_the_site_token(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    await at_midday(client, tenant)  # in 10 minutes is on the tenant's today (not after 23:50)
    patient = await create_patient(client, tenant)
    appointment = await confirmed(client, tenant, patient, now() + dt.timedelta(minutes=10))
    token = await site_token(client, tenant)

    assert_problem(
        await scan(client, tenant, patient["id"], token="ct1.nope"), 422, "QR_TOKEN_INVALID"
    )
    elsewhere = await site_token(client, other_tenant)
    assert_problem(await scan(client, tenant, patient["id"], token=elsewhere), 409, "QR_WRONG_SITE")
    app = client._transport.app  # type: ignore[attr-defined]
    settings = app.state.settings
    rotation = Rotation(base_key(settings.master_key_bytes), settings.checkin_qr_rotate_seconds)
    old, _ = rotation.token(tenant.id, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2 * 180))
    assert_problem(await scan(client, tenant, patient["id"], token=old), 409, "QR_TOKEN_EXPIRED")
    previous, _ = rotation.token(tenant.id, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=180))

    r = await scan(client, tenant, patient["id"], token=previous)  # the one before still works
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["status"]) == (appointment["id"], "checked_in")
    again = await scan(client, tenant, patient["id"], token=token)
    assert_problem(again, 409, "ALREADY_CHECKED_IN")


async def test_too_early_and_several_appointments_and_the_attempt_limit(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    await at_midday(client, tenant)  # both appointments on the tenant's today
    patient = await create_patient(client, tenant)
    soon = await confirmed(client, tenant, patient, now() + dt.timedelta(minutes=5))
    other = await confirmed(client, tenant, patient, now() + dt.timedelta(hours=3))
    token = await site_token(client, tenant)
    r = await scan(client, tenant, patient["id"], token=token)
    problem = assert_problem(r, 409, "APPOINTMENT_CHOICE_REQUIRED")
    assert {c["id"] for c in problem["candidates"]} == {soon["id"], other["id"]}
    early = await scan(client, tenant, patient["id"], token=token, appointment_id=other["id"])
    assert_problem(early, 409, "CHECKIN_TOO_EARLY")
    r = await scan(client, tenant, patient["id"], token=token, appointment_id=soon["id"])
    assert r.status_code == 200, r.text
    for _ in range(2):  # the fourth and fifth attempts this minute
        again = await scan(client, tenant, patient["id"], token=token, appointment_id=soon["id"])
        assert_problem(again, 409, "ALREADY_CHECKED_IN")
    limited = await scan(client, tenant, patient["id"], token=token)
    assert_problem(limited, 429, "RATE_LIMITED")
    assert int(limited.headers["Retry-After"]) >= 1


async def test_an_appointment_just_after_midnight_is_checked_in_before_it(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """At 23:xx in the clinic, an appointment at 00:30 is inside a two-hour check-in window:
    the scan finds it though it is on the clinic's tomorrow."""
    zone = zone_at_hour(23)
    await set_policy(client, tenant, timezone=zone, checkin_opens_before_min=120)
    midnight = nearest_midnight(zone)
    patient = await create_patient(client, tenant)
    appointment = await confirmed(client, tenant, patient, midnight + dt.timedelta(minutes=30))
    r = await scan(client, tenant, patient["id"], token=await site_token(client, tenant))
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["status"]) == (appointment["id"], "checked_in")


async def test_an_appointment_just_before_midnight_is_checked_in_after_it(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """At 00:xx in the clinic, an appointment at 23:45 is inside the check-in window (120
    minutes after the start): the patient arriving late scans and is checked in."""
    zone = zone_at_hour(0)
    await set_policy(client, tenant, timezone=zone)
    midnight = nearest_midnight(zone)
    patient = await create_patient(client, tenant)
    appointment = await confirmed(
        client, tenant, patient, midnight - dt.timedelta(minutes=15), "booked on paper"
    )
    r = await scan(client, tenant, patient["id"], token=await site_token(client, tenant))
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["status"]) == (appointment["id"], "checked_in")
