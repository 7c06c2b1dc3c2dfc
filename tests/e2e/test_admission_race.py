"""Concurrent admissions: a bed holds one patient, a patient holds one bed.

Several wards are raced at once, interleaved, so that requests overlap and the conflicting-append
path (a ward stream moved under a decision) is exercised, not only the sequential refusal.
"""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest
from admission_helpers import admit_raw, admitted, command, define_ward, read
from e2e_helpers import assert_problem, create_patient
from support import TenantFixture, new_tenant

RACERS = 15
WARDS = 3


@pytest.fixture
async def hospital(client: httpx.AsyncClient) -> TenantFixture:
    return await new_tenant(client, kind="hospital")


async def test_concurrent_admissions_to_one_bed_admit_exactly_one(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    wards = [
        (await define_ward(client, hospital, f"Race {i}", ["B1", "B2"]))["id"] for i in range(WARDS)
    ]
    tries = [
        (ward, (await create_patient(client, hospital))["id"])
        for ward in wards
        for _ in range(RACERS)
    ]
    random.shuffle(tries)
    responses = await asyncio.gather(
        *(admit_raw(client, hospital, patient, ward, "B1") for ward, patient in tries)
    )

    for ward in wards:
        mine = [r for (w, _), r in zip(tries, responses, strict=True) if w == ward]
        assert sorted(r.status_code for r in mine) == [201] + [409] * (RACERS - 1), [
            r.text for r in mine if r.status_code not in (201, 409)
        ]
        for r in mine:
            if r.status_code == 409:
                assert_problem(r, 409, "BED_OCCUPIED")
    last = max(r.json()["position"] for r in responses if r.status_code == 201)
    census = await read(client, hospital, "/v1/census", last)
    assert sorted((i["ward_id"], i["bed"]) for i in census["items"]) == sorted(
        (w, "B1") for w in wards
    )
    occupancy = await read(client, hospital, "/v1/wards/occupancy", last)
    assert occupancy["total"] == {
        "beds": 2 * WARDS,
        "occupied": WARDS,
        "unavailable": 0,
        "free": WARDS,
        "occupancy": "0.50",
    }


async def test_concurrent_admissions_of_one_patient_admit_them_once(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    beds = [f"P{i}" for i in range(RACERS)]
    wards = [(await define_ward(client, hospital, f"Ward {i}", beds))["id"] for i in range(WARDS)]
    patient = (await create_patient(client, hospital))["id"]
    tries = [(ward, bed) for ward in wards for bed in beds]
    random.shuffle(tries)
    responses = await asyncio.gather(
        *(admit_raw(client, hospital, patient, ward, bed) for ward, bed in tries)
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * (len(tries) - 1), [
        r.text for r in responses if r.status_code not in (201, 409)
    ]
    for r in responses:
        if r.status_code == 409:
            assert_problem(r, 409, "ALREADY_ADMITTED")


async def test_concurrent_transfers_into_one_bed_move_exactly_one(
    client: httpx.AsyncClient, hospital: TenantFixture
) -> None:
    target = (await define_ward(client, hospital, "Target", ["T1"]))["id"]
    sources = [(await define_ward(client, hospital, f"Src {i}", ["S1"]))["id"] for i in range(6)]
    admissions = [(await admitted(client, hospital, ward, "S1"))["id"] for ward in sources]
    responses = await asyncio.gather(
        *(
            command(client, hospital, a, "transfer", {"ward_id": target, "bed": "T1"}, role="NURSE")
            for a in admissions
        )
    )
    assert sorted(r.status_code for r in responses) == [200] + [409] * 5, [
        r.text for r in responses
    ]
    for r in responses:
        if r.status_code == 409:
            assert_problem(r, 409, "BED_OCCUPIED")
    (winner,) = [r.json() for r in responses if r.status_code == 200]
    census = await read(client, hospital, "/v1/census", winner["position"], ward_id=target)
    assert [i["admission_id"] for i in census["items"]] == [winner["id"]]
