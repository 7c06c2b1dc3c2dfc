"""Fifty receptionists race for one practitioner's slot: exactly one wins.

Several practitioners are raced at once, interleaved: in-process requests otherwise run so
staggered that the first booking often commits before the others read the schedule, and the
conflicting-append path would go untested.
"""

import asyncio
import datetime as dt
import random

import httpx
from e2e_helpers import assert_problem, book, create_patient, create_practitioner, now
from support import TenantFixture

RACERS = 50
PRACTITIONERS = 4


async def test_concurrent_overlapping_bookings_admit_exactly_one(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    docs = [(await create_practitioner(client, tenant))["id"] for _ in range(PRACTITIONERS)]
    # A patient per practitioner: one patient in four places at once is refused on its own
    # (test_booking_rules.py).
    patients = {doc: (await create_patient(client, tenant))["id"] for doc in docs}
    nine = (now() + dt.timedelta(days=4)).replace(hour=9, minute=0, second=0, microsecond=0)
    # Every booking contains 09:30, so each pair overlaps; they differ in their edges.
    tries = [
        (doc, nine + dt.timedelta(minutes=i % 30), nine + dt.timedelta(minutes=31 + i % 29))
        for doc in docs
        for i in range(RACERS)
    ]
    random.shuffle(tries)
    responses = await asyncio.gather(
        *(book(client, tenant, patients[doc], doc, s, e) for doc, s, e in tries)
    )

    for doc in docs:
        mine = [r for (d, _, _), r in zip(tries, responses, strict=True) if d == doc]
        assert sorted(r.status_code for r in mine) == [201] + [409] * (RACERS - 1), [
            r.text for r in mine if r.status_code not in (201, 409)
        ]
        for r in mine:
            if r.status_code == 409:
                assert_problem(r, 409, "SLOT_TAKEN")
        (winner,) = [r.json()["id"] for r in mine if r.status_code == 201]
        listed = await client.get(
            "/v1/appointments",
            params={
                "date": nine.date().isoformat(),
                "practitioner_id": doc,
                "min_position": max(
                    r.json()["position"] for r in responses if r.status_code == 201
                ),
            },
            headers=tenant.as_role("RECEPTIONIST"),
        )
        assert [a["id"] for a in listed.json()["items"]] == [winner]
