"""Requests with one Idempotency-Key at the same time: the command runs once; every other
answer is that response replayed or 409 IDEMPOTENCY_KEY_IN_USE, never another outcome (issue
21: identical bookings answered SLOT_TAKEN to each other)."""

import asyncio
import datetime as dt
import uuid

import asyncpg
import httpx
from e2e_helpers import create_patient, create_practitioner, iso, now, patient_body
from idempotency_helpers import (
    assert_executed,
    assert_in_use,
    assert_replayed,
    keyed,
    stored_rows,
)
from support import TenantFixture

from backend.api.idempotency import IdempotentRequest

TRIALS = 6
AT_ONCE = 10


def _one_executed_and_the_same_answer(responses: list[httpx.Response]) -> httpx.Response:
    executed = [r for r in responses if "idempotent-replayed" not in r.headers and r.is_success]
    assert len(executed) == 1, [(r.status_code, r.text) for r in responses]
    (first,) = executed
    assert first.status_code == 201, first.text
    for r in responses:
        if r is first:
            continue
        if r.status_code == 409:
            assert_in_use(r)
        else:
            assert_replayed(r, first)
    return first


async def test_identical_bookings_at_once_book_once(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    staff = tenant.as_role("RECEPTIONIST")
    nine = (now() + dt.timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
    for _ in range(TRIALS):
        patient = await create_patient(client, tenant)  # one patient is in one place at a time
        doctor = await create_practitioner(client, tenant)
        body = {
            "patient_id": patient["id"],
            "practitioner_id": doctor["id"],
            "start": iso(nine),
            "end": iso(nine + dt.timedelta(minutes=30)),
        }
        headers = keyed(staff)
        responses = await asyncio.gather(
            *(client.post("/v1/appointments", json=body, headers=headers) for _ in range(AT_ONCE))
        )
        first = _one_executed_and_the_same_answer(list(responses))
        later = await client.post("/v1/appointments", json=body, headers=headers)
        assert_replayed(later, first)
        listed = await client.get(
            "/v1/appointments",
            params={
                "date": nine.date().isoformat(),
                "practitioner_id": doctor["id"],
                "min_position": first.json()["position"],
            },
            headers=staff,
        )
        assert [a["id"] for a in listed.json()["items"]] == [first.json()["id"]]


async def test_identical_registrations_at_once_register_once(
    client: httpx.AsyncClient, tenant: TenantFixture, owner_dsn: str
) -> None:
    body = patient_body()
    headers = keyed(tenant.as_role("RECEPTIONIST"))
    responses = await asyncio.gather(
        *(client.post("/v1/patients", json=body, headers=headers) for _ in range(AT_ONCE))
    )
    first = _one_executed_and_the_same_answer(list(responses))
    rows = [
        r for r in await stored_rows(owner_dsn, tenant.id) if r["key"] == headers["Idempotency-Key"]
    ]
    assert [(r["status_code"], r["patient_id"]) for r in rows] == [
        (201, uuid.UUID(first.json()["id"]))
    ]


async def test_a_key_in_flight_is_409_with_retry_after(
    client: httpx.AsyncClient, tenant: TenantFixture, owner_dsn: str
) -> None:
    """While another transaction holds the key (here: this test, as a request would), a
    request with it is refused at once and runs nothing; afterwards it runs."""
    key = f"k-{uuid.uuid4()}"
    headers = keyed(tenant.as_role("RECEPTIONIST", actor="desk-2"), key)
    lock = IdempotentRequest.of(key, tenant.id, "desk-2", "POST", "/v1/patients", b"").lock_id
    body = patient_body()
    holder = await asyncpg.connect(owner_dsn)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", lock)
        assert_in_use(await client.post("/v1/patients", json=body, headers=headers))
        assert [r for r in await stored_rows(owner_dsn, tenant.id) if r["key"] == key] == []
        await holder.execute("SELECT pg_advisory_unlock($1)", lock)
    finally:
        await holder.close()
    first = await client.post("/v1/patients", json=body, headers=headers)
    assert_executed(first)
    assert_replayed(await client.post("/v1/patients", json=body, headers=headers), first)
