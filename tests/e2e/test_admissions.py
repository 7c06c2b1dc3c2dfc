"""Admissions in a hospital: wards and beds, admit, transfer, discharge, and their reads."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
import pytest
from admission_helpers import admit_raw, admitted, command, define_ward, read
from e2e_helpers import assert_problem, create_patient, error_fields, now, when
from support import TenantFixture, new_tenant


@pytest.fixture
async def hospital(client: httpx.AsyncClient) -> TenantFixture:
    return await new_tenant(client, kind="hospital")


async def test_a_ward_is_defined_with_its_beds_and_beds_are_added(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    ward = await define_ward(client, hospital, "Cardiology", ["A1", "A2"])
    assert (ward["name"], ward["beds"], ward["free"], ward["version"]) == (
        "Cardiology",
        ["A1", "A2"],
        2,
        1,
    )
    url = f"/v1/wards/{ward['id']}/beds"
    admin = hospital.as_role("CLINIC_ADMIN")
    r = await client.post(url, json={"beds": ["B1"]}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["beds"] == ["A1", "A2", "B1"]
    taken = await client.post(url, json={"beds": ["C1", "A2"]}, headers=admin)
    assert_problem(taken, 409, "BED_EXISTS")
    twice = await client.post(url, json={"beds": ["C1", "C1"]}, headers=admin)
    assert error_fields(twice) == {"beds"}
    stale = await client.post(url, json={"beds": ["C1"]}, headers={**admin, "If-Match": '"1"'})
    assert_problem(stale, 412, "VERSION_CONFLICT")
    unknown = await client.post(
        f"/v1/wards/{uuid.uuid4()}/beds", json={"beds": ["X"]}, headers=admin
    )
    assert_problem(unknown, 404, "NOT_FOUND")


async def test_a_ward_needs_a_name_and_beds(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    admin = hospital.as_role("CLINIC_ADMIN")
    for body, field in (
        ({"name": "", "beds": ["A1"]}, "name"),
        ({"name": "  ", "beds": ["A1"]}, "name"),
        ({"name": "North", "beds": []}, "beds"),
        ({"name": "North", "beds": ["A1", "A1"]}, "beds"),
    ):
        r = await client.post("/v1/wards", json=body, headers=admin)
        assert error_fields(r) == {field}, body


async def test_admit_read_and_list(client: httpx.AsyncClient, hospital: TenantFixture) -> None:
    ward = await define_ward(client, hospital, "Medicine", ["M1", "M2", "M3"])
    patient = await create_patient(client, hospital)
    before = now()
    r = await admit_raw(
        client, hospital, patient["id"], ward["id"], "M2", role="DOCTOR", specialty="internal"
    )
    assert r.status_code == 201, r.text
    admission = r.json()
    assert r.headers["ETag"] == '"1"'
    assert admission["status"] == "admitted" and admission["length_of_stay"] is None
    assert before <= when(admission["admitted_at"]) <= now()

    got = await read(client, hospital, f"/v1/admissions/{admission['id']}", admission["position"])
    assert (got["patient_id"], got["ward_id"], got["bed"], got["specialty"]) == (
        patient["id"],
        ward["id"],
        "M2",
        "internal",
    )
    assert (got["status"], got["version"], got["discharged_at"]) == ("admitted", 1, None)

    other = await admitted(client, hospital, ward["id"], "M1")
    after = other["position"]
    listed = await read(client, hospital, "/v1/admissions", after, ward_id=ward["id"])
    assert {a["id"] for a in listed["items"]} == {admission["id"], other["id"]}
    mine = await read(client, hospital, "/v1/admissions", after, patient_id=patient["id"])
    assert [a["id"] for a in mine["items"]] == [admission["id"]]
    closed = await read(client, hospital, "/v1/admissions", after, status="discharged")
    assert closed["items"] == []
    bad = await client.get(
        "/v1/admissions", params={"status": "gone"}, headers=hospital.as_role("AUDITOR")
    )
    assert error_fields(bad) == {"status"}


async def test_admitting_needs_a_patient_a_ward_and_one_of_its_beds(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    ward = await define_ward(client, hospital, "Surgery", ["S1"])
    patient = await create_patient(client, hospital)
    cases = [
        (str(uuid.uuid4()), ward["id"], "S1", "patient_id"),
        (patient["id"], str(uuid.uuid4()), "S1", "ward_id"),
        (patient["id"], ward["id"], "S9", "bed"),
        (patient["id"], ward["id"], "", "bed"),
    ]
    for patient_id, ward_id, bed, field in cases:
        r = await admit_raw(client, hospital, patient_id, ward_id, bed)
        assert error_fields(r) == {field}, (field, r.text)
    blank = await admit_raw(client, hospital, patient["id"], ward["id"], "S1", reason="  ")
    assert error_fields(blank) == {"reason"}


async def test_an_occupied_bed_and_an_admitted_patient_are_refused(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    ward = await define_ward(client, hospital, "ICU", ["I1", "I2"])
    first = await admitted(client, hospital, ward["id"], "I1")
    newcomer = await create_patient(client, hospital)
    taken = await admit_raw(client, hospital, newcomer["id"], ward["id"], "I1")
    assert_problem(taken, 409, "BED_OCCUPIED")
    again = await admit_raw(client, hospital, first["patient_id"], ward["id"], "I2")
    assert_problem(again, 409, "ALREADY_ADMITTED")


async def test_transfer_moves_the_patient_and_frees_the_old_bed(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    icu = await define_ward(client, hospital, "ICU", ["I1"])
    step_down = await define_ward(client, hospital, "Step-down", ["D1", "D2"])
    admission = await admitted(client, hospital, icu["id"], "I1")
    moved = await command(
        client,
        hospital,
        admission["id"],
        "transfer",
        {"ward_id": step_down["id"], "bed": "D2", "reason": "stable"},
        role="NURSE",
    )
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert (body["ward_id"], body["bed"], body["transfers"], body["version"]) == (
        step_down["id"],
        "D2",
        1,
        2,
    )
    # The ICU bed is free again, the step-down bed taken.
    follower = await admitted(client, hospital, icu["id"], "I1")
    newcomer = await create_patient(client, hospital)
    taken = await admit_raw(client, hospital, newcomer["id"], step_down["id"], "D2")
    assert_problem(taken, 409, "BED_OCCUPIED")

    within = await command(
        client, hospital, admission["id"], "transfer", {"ward_id": step_down["id"], "bed": "D1"}
    )
    assert within.status_code == 200, within.text
    same = await command(
        client, hospital, admission["id"], "transfer", {"ward_id": step_down["id"], "bed": "D1"}
    )
    assert error_fields(same) == {"bed"}
    occupied = await command(
        client, hospital, admission["id"], "transfer", {"ward_id": icu["id"], "bed": "I1"}
    )
    assert_problem(occupied, 409, "BED_OCCUPIED")
    unknown = await command(
        client, hospital, admission["id"], "transfer", {"ward_id": str(uuid.uuid4()), "bed": "I1"}
    )
    assert error_fields(unknown) == {"ward_id"}

    census = await read(client, hospital, "/v1/census", within.json()["position"])
    where = {i["admission_id"]: (i["ward_id"], i["bed"]) for i in census["items"]}
    assert where == {admission["id"]: (step_down["id"], "D1"), follower["id"]: (icu["id"], "I1")}


async def test_discharge_computes_the_length_of_stay_and_closes_the_admission(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    ward = await define_ward(client, hospital, "Ortho", ["O1"])
    admitted_at = now() - dt.timedelta(hours=50)
    admission = await admitted(
        client, hospital, ward["id"], "O1", admitted_at=admitted_at.isoformat()
    )
    assert when(admission["admitted_at"]) == admitted_at
    r = await command(
        client,
        hospital,
        admission["id"],
        "discharge",
        {"disposition": "rehabilitation", "summary": "hip replaced"},
    )
    assert r.status_code == 200, r.text
    done = r.json()
    assert (done["status"], done["disposition"], done["summary"]) == (
        "discharged",
        "rehabilitation",
        "hip replaced",
    )
    assert done["length_of_stay"] == {"days": 2, "hours": 2}

    got = await read(client, hospital, f"/v1/admissions/{admission['id']}", done["position"])
    assert got["length_of_stay"] == {"days": 2, "hours": 2}
    assert got["status"] == "discharged" and got["discharged_at"] == done["discharged_at"]
    for action, body in (
        ("discharge", {"disposition": "home"}),
        ("transfer", {"ward_id": ward["id"], "bed": "O1"}),
    ):
        closed = await command(client, hospital, admission["id"], action, body)
        assert_problem(closed, 409, "ADMISSION_CLOSED")
    # The bed and the patient are free again: the same patient may be readmitted to it.
    again = await admit_raw(client, hospital, admission["patient_id"], ward["id"], "O1")
    assert again.status_code == 201, again.text
    census = await read(
        client, hospital, "/v1/census", again.json()["position"], ward_id=ward["id"]
    )
    assert [i["admission_id"] for i in census["items"]] == [again.json()["id"]]


async def test_discharge_validates_disposition_and_time(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    ward = await define_ward(client, hospital, "Neuro", ["N1"])
    admission = await admitted(
        client, hospital, ward["id"], "N1", admitted_at=(now() - dt.timedelta(hours=5)).isoformat()
    )
    cases = [
        ({"disposition": "elsewhere"}, "disposition"),
        ({}, "disposition"),
        (
            {"disposition": "home", "discharged_at": (now() - dt.timedelta(hours=6)).isoformat()},
            "discharged_at",
        ),
        (
            {"disposition": "home", "discharged_at": (now() + dt.timedelta(hours=1)).isoformat()},
            "discharged_at",
        ),
    ]
    for body, field in cases:
        r = await command(client, hospital, admission["id"], "discharge", body)
        assert error_fields(r) == {field}, (body, r.text)
    earlier = now() - dt.timedelta(hours=1)
    r = await command(
        client,
        hospital,
        admission["id"],
        "discharge",
        {"disposition": "home", "discharged_at": earlier.isoformat()},
    )
    assert r.status_code == 200, r.text
    assert when(r.json()["discharged_at"]) == earlier
    assert r.json()["length_of_stay"] == {"days": 0, "hours": 4}


async def test_admitted_at_may_be_late_within_the_policy_only(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    ward = await define_ward(client, hospital, "Late", ["L1", "L2"])
    patient = await create_patient(client, hospital)
    for claimed in (now() - dt.timedelta(hours=73), now() + dt.timedelta(minutes=5)):
        r = await admit_raw(
            client, hospital, patient["id"], ward["id"], "L1", admitted_at=claimed.isoformat()
        )
        assert error_fields(r) == {"admitted_at"}, r.text
    within = now() - dt.timedelta(hours=71)
    r = await admit_raw(
        client, hospital, patient["id"], ward["id"], "L1", admitted_at=within.isoformat()
    )
    assert r.status_code == 201, r.text
    assert when(r.json()["admitted_at"]) == within
    events = await client.get(
        f"/v1/streams/admission/{r.json()['id']}/events", headers=hospital.as_role("AUDITOR")
    )
    assert events.status_code == 200, events.text
    assert [when(e["occurred_at"]) for e in events.json()["events"]] == [within]


async def test_if_match_guards_transfer_and_discharge(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    ward = await define_ward(client, hospital, "Match", ["X1", "X2"])
    admission = await admitted(client, hospital, ward["id"], "X1")
    stale = await command(
        client,
        hospital,
        admission["id"],
        "transfer",
        {"ward_id": ward["id"], "bed": "X2"},
        **{"If-Match": '"2"'},
    )
    assert_problem(stale, 412, "VERSION_CONFLICT")
    moved = await command(
        client,
        hospital,
        admission["id"],
        "transfer",
        {"ward_id": ward["id"], "bed": "X2"},
        **{"If-Match": '"1"'},
    )
    assert moved.status_code == 200 and moved.headers["ETag"] == '"2"', moved.text
    stale = await command(
        client,
        hospital,
        admission["id"],
        "discharge",
        {"disposition": "home"},
        **{"If-Match": '"1"'},
    )
    assert_problem(stale, 412, "VERSION_CONFLICT")


async def test_occupancy_per_ward(client: httpx.AsyncClient, hospital: TenantFixture) -> None:
    north = await define_ward(client, hospital, "North", ["N1", "N2", "N3"])
    south = await define_ward(client, hospital, "South", ["S1"])
    await admitted(client, hospital, north["id"], "N1")
    last = await admitted(client, hospital, north["id"], "N3")
    body = await read(client, hospital, "/v1/wards/occupancy", last["position"])
    by_ward = {w["ward_id"]: w for w in body["wards"]}
    assert {
        k: by_ward[north["id"]][k] for k in ("name", "beds", "occupied", "free", "occupancy")
    } == {
        "name": "North",
        "beds": 3,
        "occupied": 2,
        "free": 1,
        "occupancy": "0.67",
    }
    assert (by_ward[south["id"]]["occupied"], by_ward[south["id"]]["occupancy"]) == (0, "0.00")
    assert body["total"] == {"beds": 4, "occupied": 2, "free": 2, "occupancy": "0.50"}


async def test_roles(client: httpx.AsyncClient, hospital: TenantFixture) -> None:
    ward = await define_ward(client, hospital, "Roles", ["R1", "R2"])
    patient = await create_patient(client, hospital)
    for role in ("DOCTOR", "NURSE", "RECEPTIONIST", "AUDITOR"):
        r = await client.post(
            "/v1/wards", json={"name": "W", "beds": ["A"]}, headers=hospital.as_role(role)
        )
        assert_problem(r, 403, "FORBIDDEN")
    for role in ("RECEPTIONIST", "AUDITOR", "PATIENT", "FINANCE_BILLING"):
        r = await admit_raw(client, hospital, patient["id"], ward["id"], "R1", role=role)
        assert_problem(r, 403, "FORBIDDEN")
    admission = await admitted(client, hospital, ward["id"], "R1")
    for role in ("NURSE", "CLINIC_ADMIN", "RECEPTIONIST"):
        r = await command(
            client, hospital, admission["id"], "discharge", {"disposition": "home"}, role=role
        )
        assert_problem(r, 403, "FORBIDDEN")
    r = await command(
        client,
        hospital,
        admission["id"],
        "transfer",
        {"ward_id": ward["id"], "bed": "R2"},
        role="RECEPTIONIST",
    )
    assert_problem(r, 403, "FORBIDDEN")
    for path in (
        f"/v1/admissions/{admission['id']}",
        "/v1/admissions",
        "/v1/census",
        "/v1/wards/occupancy",
    ):
        for role in ("PATIENT", "FINANCE_BILLING"):
            r = await client.get(path, headers=hospital.as_role(role))
            assert_problem(r, 403, "FORBIDDEN")
        r = await client.get(
            path,
            params={"min_position": admission["position"]},
            headers=hospital.as_role("RECEPTIONIST"),
        )
        assert r.status_code == 200, (path, r.text)


async def test_a_clinic_has_no_admissions(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    admin = tenant.as_role("CLINIC_ADMIN")
    r = await client.post("/v1/wards", json={"name": "W", "beds": ["A"]}, headers=admin)
    assert_problem(r, 409, "NOT_A_HOSPITAL")
    r = await client.post(f"/v1/wards/{uuid.uuid4()}/beds", json={"beds": ["B"]}, headers=admin)
    assert_problem(r, 409, "NOT_A_HOSPITAL")
    patient = await create_patient(client, tenant)
    r = await admit_raw(client, tenant, patient["id"], str(uuid.uuid4()), "A")
    assert_problem(r, 409, "NOT_A_HOSPITAL")
    for action, body in (
        ("transfer", {"ward_id": str(uuid.uuid4()), "bed": "A"}),
        ("discharge", {"disposition": "home"}),
    ):
        r = await command(client, tenant, str(uuid.uuid4()), action, body)
        assert_problem(r, 409, "NOT_A_HOSPITAL")


async def test_another_hospitals_admissions_and_wards_are_invisible(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    other = await new_tenant(client, kind="hospital")
    ward = await define_ward(client, hospital, "Mine", ["M1", "M2"])
    admission = await admitted(client, hospital, ward["id"], "M1")
    at = admission["position"]
    r = await client.get(
        f"/v1/admissions/{admission['id']}",
        params={"min_position": at},
        headers=other.as_role("AUDITOR"),
    )
    assert_problem(r, 404, "NOT_FOUND")
    for action, body in (
        ("transfer", {"ward_id": ward["id"], "bed": "M2"}),
        ("discharge", {"disposition": "home"}),
    ):
        r = await command(client, other, admission["id"], action, body)
        assert_problem(r, 404, "NOT_FOUND")
    r = await client.post(
        f"/v1/wards/{ward['id']}/beds", json={"beds": ["Z"]}, headers=other.as_role("CLINIC_ADMIN")
    )
    assert_problem(r, 404, "NOT_FOUND")
    theirs = await create_patient(client, other)
    r = await admit_raw(client, other, theirs["id"], ward["id"], "M2")
    assert error_fields(r) == {"ward_id"}
    assert (await read(client, other, "/v1/admissions", at))["items"] == []
    assert (await read(client, other, "/v1/census", at))["items"] == []
    assert (await read(client, other, "/v1/wards/occupancy", at))["wards"] == []


async def test_a_late_admission_cannot_overlap_an_earlier_stay(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    ward = await define_ward(client, hospital, "Overlap", ["V1", "V2"])
    admission = await admitted(
        client, hospital, ward["id"], "V1", admitted_at=(now() - dt.timedelta(hours=30)).isoformat()
    )
    left = now() - dt.timedelta(hours=10)
    r = await command(
        client,
        hospital,
        admission["id"],
        "discharge",
        {"disposition": "home", "discharged_at": left.isoformat()},
    )
    assert r.status_code == 200, r.text
    before = (left - dt.timedelta(hours=1)).isoformat()
    # The same patient, back-dated into their previous stay; another patient into V1 then.
    again = await admit_raw(
        client, hospital, admission["patient_id"], ward["id"], "V2", admitted_at=before
    )
    assert error_fields(again) == {"admitted_at"}
    newcomer = await create_patient(client, hospital)
    bed_taken = await admit_raw(
        client, hospital, newcomer["id"], ward["id"], "V1", admitted_at=before
    )
    assert error_fields(bed_taken) == {"admitted_at"}
    elsewhere = await admit_raw(
        client, hospital, newcomer["id"], ward["id"], "V2", admitted_at=before
    )
    assert elsewhere.status_code == 201, elsewhere.text
    after = await admit_raw(
        client, hospital, admission["patient_id"], ward["id"], "V1", admitted_at=left.isoformat()
    )
    assert after.status_code == 201, after.text
