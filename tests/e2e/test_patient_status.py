"""Patient status shared by every context: a recorded death (by staff, or from a discharge as
deceased) and an erasure keep a patient from being booked, admitted or reminded, with stable
codes, checked by one rule (patients.model.require_active); no visit begins after a death and
nothing new is charted about an erased patient (patients.model.require_chartable)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
from admission_helpers import admit_raw, admitted, command, define_ward
from dayflow_helpers import reaction_passed
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
from notification_helpers import no_quiet_hours, notifications_after_reactions
from support import TenantFixture, new_tenant
from visit_helpers import NOTE


async def record_death(
    client: httpx.AsyncClient, tenant: TenantFixture, patient_id: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/patients/{patient_id}/death", json=body or None, headers=tenant.as_role("DOCTOR")
    )


async def erase(client: httpx.AsyncClient, tenant: TenantFixture, patient_id: str) -> None:
    r = await client.post(
        f"/v1/patients/{patient_id}/erase",
        json={"reason": "request"},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.status_code == 200, r.text


async def booking(
    client: httpx.AsyncClient, tenant: TenantFixture, patient_id: str
) -> httpx.Response:
    practitioner = await create_practitioner(client, tenant)
    start = now() + dt.timedelta(days=2)
    return await book(
        client, tenant, patient_id, practitioner["id"], start, start + dt.timedelta(minutes=30)
    )


async def test_staff_record_a_death_once(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    patient = await create_patient(client, tenant)
    died_at = now() - dt.timedelta(days=20)  # the family told the clinic weeks later
    r = await record_death(client, tenant, patient["id"], died_at=died_at.isoformat())
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["deceased"], when(body["died_at"]), body["version"]) == (True, died_at, 2)
    assert r.headers["ETag"] == '"2"'
    got = await client.get(
        f"/v1/patients/{patient['id']}",
        params={"min_position": body["position"]},
        headers=tenant.as_role("AUDITOR"),
    )
    assert (got.json()["deceased"], when(got.json()["died_at"])) == (True, died_at)
    history = await client.get(
        f"/v1/streams/patient/{patient['id']}/events", headers=tenant.as_role("AUDITOR")
    )
    died = history.json()["events"][-1]
    assert (died["type"], when(died["occurred_at"])) == ("PatientDied", died_at)

    assert_problem(await record_death(client, tenant, patient["id"]), 409, "PATIENT_DECEASED")


async def test_a_death_refusals(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant, birth_date="1990-05-01")
    later = (now() + dt.timedelta(hours=1)).isoformat()
    assert error_fields(await record_death(client, tenant, patient["id"], died_at=later)) == {
        "died_at"
    }
    unborn = "1990-04-30T12:00:00+00:00"
    assert error_fields(await record_death(client, tenant, patient["id"], died_at=unborn)) == {
        "died_at"
    }
    url = f"/v1/patients/{patient['id']}/death"
    for role in ("PATIENT", "FINANCE_BILLING", "AUDITOR"):
        assert_problem(await client.post(url, headers=tenant.as_role(role)), 403, "FORBIDDEN")
    stranger = await client.post(url, headers=other_tenant.as_role("DOCTOR"))
    assert_problem(stranger, 404, "NOT_FOUND")
    stale = await client.post(url, headers={**tenant.as_role("NURSE"), "If-Match": '"7"'})
    assert_problem(stale, 412, "VERSION_CONFLICT")
    missing = await record_death(client, tenant, str(uuid.uuid4()))
    assert_problem(missing, 404, "NOT_FOUND")
    await erase(client, tenant, patient["id"])
    assert_problem(await record_death(client, tenant, patient["id"]), 409, "PATIENT_ERASED")


async def test_a_deceased_or_erased_patient_is_not_booked(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    deceased = await create_patient(client, tenant)
    assert (await record_death(client, tenant, deceased["id"])).status_code == 200
    assert_problem(await booking(client, tenant, deceased["id"]), 409, "PATIENT_DECEASED")
    erased = await create_patient(client, tenant)
    await erase(client, tenant, erased["id"])
    assert_problem(await booking(client, tenant, erased["id"]), 409, "PATIENT_ERASED")
    assert error_fields(await booking(client, tenant, str(uuid.uuid4()))) == {"patient_id"}


async def test_a_deceased_or_erased_patient_is_not_admitted(client: httpx.AsyncClient) -> None:
    hospital = await new_tenant(client, kind="hospital")
    ward = await define_ward(client, hospital, "Medicine", ["M1"])
    deceased = await create_patient(client, hospital)
    assert (await record_death(client, hospital, deceased["id"])).status_code == 200
    r = await admit_raw(client, hospital, deceased["id"], ward["id"], "M1")
    assert_problem(r, 409, "PATIENT_DECEASED")
    erased = await create_patient(client, hospital)
    await erase(client, hospital, erased["id"])
    assert_problem(
        await admit_raw(client, hospital, erased["id"], ward["id"], "M1"), 409, "PATIENT_ERASED"
    )


async def test_a_discharge_as_deceased_records_the_death_for_every_context(
    client: httpx.AsyncClient,
) -> None:
    hospital = await new_tenant(client, kind="hospital")
    ward = await define_ward(client, hospital, "ICU", ["I1", "I2"])
    admission = await admitted(client, hospital, ward["id"], "I1")
    r = await command(client, hospital, admission["id"], "discharge", {"disposition": "deceased"})
    assert r.status_code == 200, r.text
    discharged = r.json()
    await reaction_passed(client, hospital, "patient-death", discharged["position"])

    patient_id = admission["patient_id"]
    history = await client.get(
        f"/v1/streams/patient/{patient_id}/events", headers=hospital.as_role("AUDITOR")
    )
    died = history.json()["events"][-1]
    assert died["type"] == "PatientDied"
    assert died["data"]["admission_id"] == admission["id"]
    assert when(died["data"]["died_at"]) == when(discharged["discharged_at"])
    assert died["actor"] == "reaction:patient-death"
    again = await admit_raw(client, hospital, patient_id, ward["id"], "I2")
    assert_problem(again, 409, "PATIENT_DECEASED")
    assert_problem(await booking(client, hospital, patient_id), 409, "PATIENT_DECEASED")


async def test_a_discharge_home_records_no_death(client: httpx.AsyncClient) -> None:
    hospital = await new_tenant(client, kind="hospital")
    ward = await define_ward(client, hospital, "Ortho", ["O1"])
    admission = await admitted(client, hospital, ward["id"], "O1")
    r = await command(client, hospital, admission["id"], "discharge", {"disposition": "home"})
    assert r.status_code == 200, r.text
    await reaction_passed(client, hospital, "patient-death", r.json()["position"])
    again = await admit_raw(client, hospital, admission["patient_id"], ward["id"], "O1")
    assert again.status_code == 201, again.text


async def test_no_reminder_is_queued_for_a_deceased_patient(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """Booked while alive, confirmed after the death was recorded: nothing is queued."""
    await no_quiet_hours(client, tenant)
    patient = await create_patient(client, tenant, phone="+1 212 555 0101")
    r = await booking(client, tenant, patient["id"])
    assert r.status_code == 201, r.text
    assert (await record_death(client, tenant, patient["id"])).status_code == 200
    confirmed = await act(client, tenant, r.json()["id"], "confirm")
    await reaction_passed(client, tenant, "appointment-reminder", confirmed["position"])
    assert await notifications_after_reactions(client, tenant, patient["id"]) == []


async def test_no_visit_after_a_death_and_nothing_new_about_an_erased_patient(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    doctor = await create_practitioner(client, tenant)
    as_doctor = tenant.as_role("DOCTOR", actor=doctor["id"])

    async def walk_in(patient_id: str, **extra: Any) -> httpx.Response:
        body = {"patient_id": patient_id, "practitioner_id": doctor["id"], **extra}
        return await client.post("/v1/visits", json=body, headers=tenant.as_role("RECEPTIONIST"))

    async def signed_off(visit: httpx.Response) -> str:
        """The addenda's URL of the visit, signed off (addenda follow sign-off)."""
        assert visit.status_code == 201, visit.text
        url = f"/v1/visits/{visit.json()['id']}"
        assert (await client.put(f"{url}/note", json=NOTE, headers=as_doctor)).is_success
        assert (await client.post(f"{url}/sign-off", headers=as_doctor)).is_success
        return f"{url}/addenda"

    deceased = await create_patient(client, tenant)
    died_at = now() - dt.timedelta(hours=2)
    assert (
        await record_death(client, tenant, deceased["id"], died_at=died_at.isoformat())
    ).is_success
    assert_problem(await walk_in(deceased["id"]), 409, "PATIENT_DECEASED")
    before = (died_at - dt.timedelta(hours=1)).isoformat()  # the visit they died in, charted late
    addendum = await signed_off(await walk_in(deceased["id"], opened_at=before))
    death_note = {"text": "pronounced dead at 14:10"}
    r = await client.post(addendum, json=death_note, headers=tenant.as_role("DOCTOR"))
    assert r.status_code == 200, r.text

    erased = await create_patient(client, tenant)
    addendum = await signed_off(await walk_in(erased["id"]))
    await erase(client, tenant, erased["id"])
    assert_problem(await walk_in(erased["id"]), 409, "PATIENT_ERASED")
    naming = {"text": "Carla called about her results"}
    r = await client.post(addendum, json=naming, headers=tenant.as_role("DOCTOR"))
    assert_problem(r, 409, "PATIENT_ERASED")
