"""Booking rules: no start in the past unless staff back-chart it with a reason (recorded on the
booking), and a patient is not booked in two places at once: refused by default, booked with a
warning under the tenant's `patient_double_booking: warn` policy; racing bookings for one patient
admit one."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
from e2e_helpers import act, assert_problem, book, create_patient, create_practitioner, now
from support import TenantFixture

H = dt.timedelta(hours=1)


def tomorrow_at(hour: int) -> dt.datetime:
    return (now() + dt.timedelta(days=1)).replace(hour=hour, minute=0, second=0, microsecond=0)


async def people(
    client: httpx.AsyncClient, tenant: TenantFixture, doctors: int = 2
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    patient = await create_patient(client, tenant)
    return patient, [await create_practitioner(client, tenant) for _ in range(doctors)]


async def test_a_start_in_the_past_is_refused(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient, (doctor, _) = await people(client, tenant)
    start = now() - 2 * H
    r = await book(client, tenant, patient["id"], doctor["id"], start, start + H)
    assert_problem(r, 409, "APPOINTMENT_IN_PAST")
    r = await book(
        client, tenant, patient["id"], doctor["id"], start, start + H, back_charting_reason=" "
    )
    assert_problem(r, 409, "APPOINTMENT_IN_PAST")


async def test_staff_back_chart_a_past_start_with_a_reason_on_the_booking(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient, (doctor, _) = await people(client, tenant)
    start = now() - 2 * H
    reason = "seen this morning, booked after the fact"
    r = await book(
        client, tenant, patient["id"], doctor["id"], start, start + H, back_charting_reason=reason
    )
    assert r.status_code == 201, r.text
    booked = r.json()
    assert booked["back_charting_reason"] == reason
    events = await client.get(
        f"/v1/streams/appointment/{booked['id']}/events", headers=tenant.as_role("AUDITOR")
    )
    (requested,) = events.json()["events"]
    assert requested["data"]["back_charting_reason"] == reason
    read = await client.get(
        f"/v1/appointments/{booked['id']}",
        params={"min_position": booked["position"]},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert read.json()["back_charting_reason"] == reason


async def test_a_future_start_records_no_back_charting_reason(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient, (doctor, _) = await people(client, tenant)
    start = tomorrow_at(9)
    r = await book(
        client, tenant, patient["id"], doctor["id"], start, start + H, back_charting_reason="x"
    )
    assert r.status_code == 201, r.text
    assert r.json()["back_charting_reason"] is None
    assert r.json()["warnings"] == []


async def test_a_patient_is_not_booked_in_two_places_at_once(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient, (grey, house) = await people(client, tenant)
    nine = tomorrow_at(9)
    first = await book(client, tenant, patient["id"], grey["id"], nine, nine + H)
    assert first.status_code == 201, first.text
    clash = await book(client, tenant, patient["id"], house["id"], nine + H / 2, nine + 2 * H)
    body = assert_problem(clash, 409, "PATIENT_DOUBLE_BOOKED")
    assert first.json()["id"] in body["detail"]
    after = await book(client, tenant, patient["id"], house["id"], nine + H, nine + 2 * H)
    assert after.status_code == 201, after.text  # back to back is no clash

    await act(client, tenant, first.json()["id"], "cancel", {"reason": "moved"})
    again = await book(client, tenant, patient["id"], house["id"], nine, nine + H / 2)
    assert again.status_code == 201, again.text  # the cancelled booking freed the time


async def test_a_warn_policy_books_the_patient_twice_with_a_warning(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.patch(
        "/v1/tenant/policy",
        json={"patient_double_booking": "warn"},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.json()["policy"]["patient_double_booking"] == "warn"
    patient, (grey, house) = await people(client, tenant)
    nine = tomorrow_at(9)
    first = await book(client, tenant, patient["id"], grey["id"], nine, nine + H)
    second = await book(client, tenant, patient["id"], house["id"], nine, nine + H)
    assert second.status_code == 201, second.text
    (warning,) = second.json()["warnings"]
    assert warning["rule"] == "patient_double_booked"
    assert first.json()["id"] in warning["message"]


async def test_a_bad_double_booking_policy_is_422(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.patch(
        "/v1/tenant/policy",
        json={"patient_double_booking": "maybe"},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert_problem(r, 422, "VALIDATION_ERROR")


async def test_racing_bookings_of_one_patient_with_several_doctors_admit_one(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient, doctors = await people(client, tenant, doctors=6)
    nine = tomorrow_at(9)
    responses = await asyncio.gather(
        *(
            book(
                client, tenant, patient["id"], d["id"], nine + i * dt.timedelta(minutes=5), nine + H
            )
            for i, d in enumerate(doctors)
        )
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5, [
        r.text for r in responses
    ]
    for r in responses:
        if r.status_code == 409:
            assert_problem(r, 409, "PATIENT_DOUBLE_BOOKED")
