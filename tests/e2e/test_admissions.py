"""Admissions in a hospital: wards and beds, admit, transfer, discharge, and their reads."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from admission_helpers import admit_raw, admitted, command, define_ward, read
from e2e_helpers import assert_problem, create_patient, error_fields, iso, now, set_policy, when
from support import TenantFixture, new_tenant

from backend.admissions import wards
from backend.admissions.ward_names import ward_names_stream_id
from backend.admissions.wards import WARD
from backend.auth.principal import Principal, Role
from backend.eventstore import EventStore
from backend.handling import CommandResult, CommandSession, RequestContext, run_command


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
    midnights = (when(done["discharged_at"]).date() - admitted_at.date()).days  # UTC tenant
    assert done["length_of_stay"] == {"days": midnights, "hours": 50}

    got = await read(client, hospital, f"/v1/admissions/{admission['id']}", done["position"])
    assert got["length_of_stay"] == done["length_of_stay"]
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
    assert r.json()["length_of_stay"]["hours"] == 4


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
    by_ward = {w["ward_id"]: w for w in body["items"]}
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
    assert body["total"] == {
        "beds": 4,
        "occupied": 2,
        "unavailable": 0,
        "free": 2,
        "occupancy": "0.50",
    }


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
    assert (await read(client, other, "/v1/wards/occupancy", at))["items"] == []


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


async def test_a_wards_history_is_in_clinical_time_like_its_admissions(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    """A back-dated admission and discharge move the ward's beds at their clinical times: the
    ward and the admission read `valid_at` the same moment agree."""
    ward = await define_ward(client, hospital, "History", ["H1"])
    auditor = hospital.as_role("AUDITOR")
    defined = await client.get(f"/v1/streams/ward/{ward['id']}/events", headers=auditor)
    defined_at = when(defined.json()["events"][0]["occurred_at"])
    await asyncio.sleep(0.6)
    admitted_at = defined_at + dt.timedelta(milliseconds=100)
    admission = await admitted(client, hospital, ward["id"], "H1", admitted_at=iso(admitted_at))
    await asyncio.sleep(0.6)
    left = when(admission["admitted_at"]) + dt.timedelta(milliseconds=900)
    r = await command(
        client,
        hospital,
        admission["id"],
        "discharge",
        {"disposition": "home", "discharged_at": iso(left)},
    )
    assert r.status_code == 200, r.text

    async def at(stream: str, moment: dt.datetime) -> dict[str, Any]:
        got = await client.get(
            f"/v1/streams/{stream}", params={"valid_at": iso(moment)}, headers=auditor
        )
        assert got.status_code == 200, got.text
        state: dict[str, Any] = got.json()["state"]
        return state

    # Between the clinical and the recording time of the admission: the bed is taken.
    during = admitted_at + dt.timedelta(milliseconds=200)
    assert (await at(f"admission/{admission['id']}", during))["status"] == "admitted"
    assert (await at(f"ward/{ward['id']}", during))["occupants"] == {"H1": admission["id"]}
    # After the back-dated discharge, before it was charted: free again, on both.
    after = left + dt.timedelta(milliseconds=50)
    assert (await at(f"admission/{admission['id']}", after))["status"] == "discharged"
    assert (await at(f"ward/{ward['id']}", after))["occupants"] == {}
    history = await client.get(f"/v1/streams/ward/{ward['id']}/events", headers=auditor)
    assert [when(e["occurred_at"]) for e in history.json()["events"][1:]] == [admitted_at, left]


async def test_census_and_occupancy_at_a_past_moment(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    """`valid_at` answers who was in bed then (a back-dated admission included), `as_of` what
    the system had recorded by then; the present is the read model's."""
    ward = await define_ward(client, hospital, "Past", ["P1", "P2"])
    auditor = hospital.as_role("AUDITOR")
    defined = await client.get(f"/v1/streams/ward/{ward['id']}/events", headers=auditor)
    defined_at = when(defined.json()["events"][0]["occurred_at"])
    await asyncio.sleep(0.4)
    admitted_at = defined_at + dt.timedelta(milliseconds=100)
    first = await admitted(client, hospital, ward["id"], "P1", admitted_at=iso(admitted_at))
    recorded = now()
    await asyncio.sleep(0.05)
    moved = await command(
        client, hospital, first["id"], "transfer", {"ward_id": ward["id"], "bed": "P2"}
    )
    assert moved.status_code == 200, moved.text
    second = await admitted(client, hospital, ward["id"], "P1")

    async def past(path: str, **params: Any) -> dict[str, Any]:
        text = {k: iso(v) if isinstance(v, dt.datetime) else v for k, v in params.items()}
        r = await client.get(path, params=text, headers=auditor)
        assert r.status_code == 200, r.text
        assert "X-Projection-Position" not in r.headers
        body: dict[str, Any] = r.json()
        return body

    def beds(census: dict[str, Any]) -> list[tuple[str, str, str]]:
        return [(i["bed"], i["admission_id"], i["in_bed_since"]) for i in census["items"]]

    then = admitted_at + dt.timedelta(milliseconds=100)
    during = await past("/v1/census", valid_at=then)
    assert (during["count"], beds(during)) == (1, [("P1", first["id"], first["admitted_at"])])
    assert during["items"][0]["patient_id"] == first["patient_id"]
    assert when(during["valid_at"]) == then and during["as_of"] is None
    assert (await past("/v1/census", as_of=then))["items"] == []
    known = await past("/v1/census", as_of=recorded)
    assert beds(known) == [("P1", first["id"], first["admitted_at"])]
    assert when(known["as_of"]) == recorded
    present = await read(client, hospital, "/v1/census", second["position"])
    latest = await past("/v1/census", valid_at=now())
    assert latest["items"] == present["items"] and latest["count"] == 2
    paged = await past("/v1/census", valid_at=now(), limit=1)
    assert paged["items"] == present["items"][:1] and paged["next_cursor"]
    rest = await client.get(
        "/v1/census",
        params={"valid_at": iso(now()), "cursor": paged["next_cursor"]},
        headers=auditor,
    )
    assert rest.json()["items"] == present["items"][1:] and rest.json()["next_cursor"] is None

    occupancy = await past("/v1/wards/occupancy", valid_at=then)
    assert [(w["name"], w["beds"], w["occupied"]) for w in occupancy["items"]] == [("Past", 2, 1)]
    assert occupancy["total"] == {
        "beds": 2,
        "occupied": 1,
        "unavailable": 0,
        "free": 1,
        "occupancy": "0.50",
    }
    before = await past("/v1/wards/occupancy", as_of=defined_at - dt.timedelta(seconds=1))
    assert before["items"] == [] and before["total"]["beds"] == 0


async def test_admissions_routes_refuse_parameters_they_do_not_take(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    auditor = hospital.as_role("AUDITOR")
    for path, params, field in (
        ("/v1/admissions", {"as_of": iso(now())}, "as_of"),
        ("/v1/census", {"at": iso(now())}, "at"),
        ("/v1/census", {"valid_at": iso(now()), "min_position": "1"}, "min_position"),
        ("/v1/wards/occupancy", {"as_of": iso(now()), "min_position": "1"}, "min_position"),
        (f"/v1/admissions/{uuid.uuid4()}", {"valid_at": iso(now())}, "valid_at"),
    ):
        r = await client.get(path, params=params, headers=auditor)
        assert error_fields(r) == {field}, (path, r.text)
    ward = await define_ward(client, hospital, "Strict", ["S1"])
    patient = await create_patient(client, hospital)
    r = await client.post(
        "/v1/admissions",
        params={"bed": "S1"},
        json={"patient_id": patient["id"], "ward_id": ward["id"], "bed": "S1", "reason": "x"},
        headers=hospital.as_role("NURSE"),
    )
    assert error_fields(r) == {"bed"}, r.text


async def test_bed_labels_are_trimmed_when_admitting_and_transferring_as_when_defined(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    ward = await define_ward(client, hospital, "Labels", [" C6", "C7 "])
    assert ward["beds"] == ["C6", "C7"]
    admission = await admitted(client, hospital, ward["id"], "C6 ")
    assert admission["bed"] == "C6"
    moved = await command(
        client, hospital, admission["id"], "transfer", {"ward_id": ward["id"], "bed": "\tC7"}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["bed"] == "C7"
    patient = await create_patient(client, hospital)
    taken = await admit_raw(client, hospital, patient["id"], ward["id"], " C7 ")
    assert_problem(taken, 409, "BED_OCCUPIED")


async def test_a_stays_days_are_midnights_in_the_tenants_time_zone(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    """In at 23:50 and out at 00:10 in Kolkata is one day, by the midnight census there."""
    await set_policy(client, hospital, timezone="Asia/Kolkata")
    kolkata = ZoneInfo("Asia/Kolkata")
    midnight = dt.datetime.combine(
        (now() - dt.timedelta(minutes=10)).astimezone(kolkata).date(), dt.time(), kolkata
    )
    ward = await define_ward(client, hospital, "Night", ["K1"])
    admission = await admitted(
        client, hospital, ward["id"], "K1", admitted_at=iso(midnight - dt.timedelta(minutes=10))
    )
    r = await command(
        client,
        hospital,
        admission["id"],
        "discharge",
        {"disposition": "home", "discharged_at": iso(midnight + dt.timedelta(minutes=10))},
    )
    assert r.status_code == 200, r.text
    assert r.json()["length_of_stay"] == {"days": 1, "hours": 0}
    got = await read(client, hospital, f"/v1/admissions/{admission['id']}", r.json()["position"])
    assert got["length_of_stay"] == {"days": 1, "hours": 0}


async def test_ward_names_are_unique_and_wards_are_renamed_and_closed(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    admin = hospital.as_role("CLINIC_ADMIN")
    north = await define_ward(client, hospital, "North", ["N1"])
    south = await define_ward(client, hospital, "South", ["S1"])
    again = await client.post("/v1/wards", json={"name": " north ", "beds": ["X"]}, headers=admin)
    assert_problem(again, 409, "WARD_NAME_TAKEN")
    taken = await client.post(
        f"/v1/wards/{south['id']}/rename", json={"name": "NORTH"}, headers=admin
    )
    assert_problem(taken, 409, "WARD_NAME_TAKEN")
    r = await client.post(f"/v1/wards/{north['id']}/rename", json={"name": "East"}, headers=admin)
    assert r.status_code == 200 and r.json()["name"] == "East", r.text
    assert (await define_ward(client, hospital, "North", ["M1"]))["name"] == "North"

    patient = await admitted(client, hospital, south["id"], "S1")
    full = await client.post(f"/v1/wards/{south['id']}/close", headers=admin)
    assert_problem(full, 409, "WARD_NOT_EMPTY")
    r = await command(
        client, hospital, patient["id"], "transfer", {"ward_id": north["id"], "bed": "N1"}
    )
    assert r.status_code == 200, r.text
    closed = await client.post(f"/v1/wards/{south['id']}/close", headers=admin)
    assert closed.status_code == 200 and closed.json()["status"] == "closed", closed.text
    newcomer = await create_patient(client, hospital)
    refused = await admit_raw(client, hospital, newcomer["id"], south["id"], "S1")
    assert_problem(refused, 409, "WARD_CLOSED")
    assert (await define_ward(client, hospital, "South", ["T1"]))["name"] == "South"
    body = await read(client, hospital, "/v1/wards/occupancy", closed.json()["position"])
    assert south["id"] not in {w["ward_id"] for w in body["items"]}


async def test_a_bed_being_cleaned_or_blocked_is_refused_for_admission(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    ward = await define_ward(client, hospital, "Rooms", ["R1", "R2"])
    url = f"/v1/wards/{ward['id']}/bed-states"
    nurse = hospital.as_role("NURSE")
    r = await client.post(url, json={"bed": "R1 ", "state": "cleaning"}, headers=nurse)
    assert r.status_code == 200, r.text
    assert (r.json()["bed_states"], r.json()["free"], r.json()["unavailable"]) == (
        {"R1": "cleaning"},
        1,
        1,
    )
    patient = await create_patient(client, hospital)
    refused = await admit_raw(client, hospital, patient["id"], ward["id"], "R1")
    assert_problem(refused, 409, "BED_UNAVAILABLE")
    odd = await client.post(url, json={"bed": "R1", "state": "on fire"}, headers=nurse)
    assert error_fields(odd) == {"state"}
    denied = await client.post(
        url, json={"bed": "R1", "state": "available"}, headers=hospital.as_role("RECEPTIONIST")
    )
    assert denied.status_code == 403
    r = await client.post(url, json={"bed": "R1", "state": "available"}, headers=nurse)
    assert r.status_code == 200 and r.json()["bed_states"] == {}, r.text
    admission = await admit_raw(client, hospital, patient["id"], ward["id"], "R1")
    assert admission.status_code == 201, admission.text
    occupied = await client.post(url, json={"bed": "R1", "state": "blocked"}, headers=nurse)
    assert_problem(occupied, 409, "BED_OCCUPIED")
    r = await client.post(
        url, json={"bed": "R2", "state": "blocked", "reason": "broken rail"}, headers=nurse
    )
    body = await read(client, hospital, "/v1/wards/occupancy", r.json()["position"])
    [row] = body["items"]
    assert (row["occupied"], row["unavailable"], row["free"]) == (1, 1, 0)


async def test_wards_defined_before_names_were_kept_hold_their_names(
    client: httpx.AsyncClient, hospital: TenantFixture, store: EventStore
) -> None:
    """A ward recorded without the names stream (as before it existed): the first ward command
    after records its name, and a second ward of that name is refused."""
    ward_id = uuid.uuid4()
    principal = Principal("admin", hospital.id, frozenset({Role.CLINIC_ADMIN}))
    ctx = RequestContext(principal, "old", "old", now())

    async def old_style(session: CommandSession) -> CommandResult:
        ward = session.new(WARD, ward_id)
        return await session.save(ward, wards.define(ward.state, ward_id, "Legacy", ["L1"]))

    await run_command(store, ctx, hospital.id, old_style)
    admin = hospital.as_role("CLINIC_ADMIN")
    again = await client.post("/v1/wards", json={"name": "legacy", "beds": ["X"]}, headers=admin)
    assert_problem(again, 409, "WARD_NAME_TAKEN")
    names = await client.get(
        f"/v1/streams/ward_names/{ward_names_stream_id(hospital.id)}/events",
        headers=hospital.as_role("AUDITOR"),
    )
    assert names.status_code == 404, "the refused command recorded nothing"
    other = await define_ward(client, hospital, "Other", ["O1"])
    names = await client.get(
        f"/v1/streams/ward_names/{ward_names_stream_id(hospital.id)}/events",
        headers=hospital.as_role("AUDITOR"),
    )
    assert [(e["data"]["ward_id"], e["data"]["name"]) for e in names.json()["events"]] == [
        (str(ward_id), "Legacy"),
        (other["id"], "Other"),
    ]
