"""Booking appointments: the slot rules of one practitioner."""

import datetime as dt
import uuid

import httpx
from e2e_helpers import (
    act,
    assert_problem,
    book,
    create_patient,
    create_practitioner,
    error_fields,
    now,
    when,
)
from support import TenantFixture

MIN = dt.timedelta(minutes=1)


def _nine_tomorrow() -> dt.datetime:
    return (now() + dt.timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)


async def test_booking_is_requested(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    patient = await create_patient(client, tenant)
    doc = await create_practitioner(client, tenant)
    start = _nine_tomorrow()
    r = await book(client, tenant, patient["id"], doc["id"], start, start + 30 * MIN, reason="flu")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["status"], body["version"], body["reason"]) == ("requested", 1, "flu")
    assert (body["patient_id"], body["practitioner_id"]) == (patient["id"], doc["id"])
    assert when(body["start"]) == start and when(body["end"]) == start + 30 * MIN
    assert r.headers["etag"] == '"1"'
    got = await client.get(
        f"/v1/appointments/{body['id']}",
        params={"min_position": body["position"]},
        headers=tenant.as_role("DOCTOR"),
    )
    assert got.status_code == 200
    assert (got.json()["status"], got.json()["version"]) == ("requested", 1)


async def test_overlap_with_same_practitioner_is_slot_taken(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    doc = await create_practitioner(client, tenant)
    start = _nine_tomorrow()
    assert (
        await book(client, tenant, patient["id"], doc["id"], start, start + 30 * MIN)
    ).is_success
    for s, e in (
        (start + 15 * MIN, start + 45 * MIN),
        (start - 5 * MIN, start + 5 * MIN),
        (start + 5 * MIN, start + 10 * MIN),
        (start - MIN, start + 31 * MIN),
    ):
        r = await book(client, tenant, patient["id"], doc["id"], s, e)
        assert_problem(r, 409, "SLOT_TAKEN")


async def test_overlap_across_time_zones_is_detected(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    doc = await create_practitioner(client, tenant)
    start = _nine_tomorrow()
    assert (
        await book(client, tenant, patient["id"], doc["id"], start, start + 30 * MIN)
    ).is_success
    paris = dt.timezone(dt.timedelta(hours=2))
    r = await book(
        client,
        tenant,
        patient["id"],
        doc["id"],
        start.astimezone(paris),
        start.astimezone(paris) + 10 * MIN,
    )
    assert_problem(r, 409, "SLOT_TAKEN")


async def test_touching_appointments_do_not_overlap(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    doc = await create_practitioner(client, tenant)
    start = _nine_tomorrow()
    assert (
        await book(client, tenant, patient["id"], doc["id"], start, start + 30 * MIN)
    ).is_success
    after = await book(client, tenant, patient["id"], doc["id"], start + 30 * MIN, start + 60 * MIN)
    before = await book(client, tenant, patient["id"], doc["id"], start - 30 * MIN, start)
    assert after.status_code == before.status_code == 201, (after.text, before.text)


async def test_other_practitioner_may_take_the_same_time(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    other_patient = await create_patient(client, tenant)
    first = await create_practitioner(client, tenant)
    second = await create_practitioner(client, tenant)
    start = _nine_tomorrow()
    assert (
        await book(client, tenant, patient["id"], first["id"], start, start + 30 * MIN)
    ).is_success
    r = await book(client, tenant, other_patient["id"], second["id"], start, start + 30 * MIN)
    assert r.status_code == 201, r.text


async def test_booking_across_midnight_holds_both_days(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    doc = await create_practitioner(client, tenant)
    midnight = _nine_tomorrow().replace(hour=0) + dt.timedelta(days=1)
    r = await book(
        client, tenant, patient["id"], doc["id"], midnight - 30 * MIN, midnight + 30 * MIN
    )
    assert r.status_code == 201, r.text
    late = await book(
        client, tenant, patient["id"], doc["id"], midnight + 10 * MIN, midnight + 20 * MIN
    )
    assert_problem(late, 409, "SLOT_TAKEN")


async def test_unknown_patient_or_practitioner_is_422(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    doc = await create_practitioner(client, tenant)
    foreign = await create_patient(client, other_tenant)
    start = _nine_tomorrow()
    for pid in (str(uuid.uuid4()), foreign["id"]):
        r = await book(client, tenant, pid, doc["id"], start, start + 30 * MIN)
        assert error_fields(r) == {"patient_id"}
    r = await book(client, tenant, patient["id"], str(uuid.uuid4()), start, start + 30 * MIN)
    assert error_fields(r) == {"practitioner_id"}


async def test_cancelled_slot_is_bookable_again(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    doc = await create_practitioner(client, tenant)
    start = _nine_tomorrow()
    first = (await book(client, tenant, patient["id"], doc["id"], start, start + 30 * MIN)).json()
    await act(client, tenant, first["id"], "confirm")
    cancelled = await act(client, tenant, first["id"], "cancel", {"reason": "patient called"})
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "patient called")
    r = await book(client, tenant, patient["id"], doc["id"], start, start + 30 * MIN)
    assert r.status_code == 201, r.text


async def test_completed_appointment_frees_its_slot(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    doc = await create_practitioner(client, tenant)
    start = now() + 10 * MIN
    appt = (await book(client, tenant, patient["id"], doc["id"], start, start + 30 * MIN)).json()
    for action in ("confirm", "check-in", "complete"):
        await act(client, tenant, appt["id"], action)
    r = await book(client, tenant, patient["id"], doc["id"], start, start + 30 * MIN)
    assert r.status_code == 201, r.text
