"""Read-your-writes on the read models: min_position waits (bounded), 503 PROJECTION_LAGGING
when it cannot, X-Projection-Position on every read; the practitioner's day (free/busy)."""

import datetime as dt
import time
import uuid

import httpx
from e2e_helpers import act, assert_problem, book, create_patient, create_practitioner, now
from support import TenantFixture


async def test_a_read_after_a_write_reflects_it_and_says_how_far_it_is(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    created = await create_patient(client, tenant, given_name="Rosalind")
    r = await client.get(
        f"/v1/patients/{created['id']}",
        params={"min_position": created["position"]},
        headers=tenant.as_role("NURSE"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["given_name"] == "Rosalind"
    assert int(r.headers["X-Projection-Position"]) >= created["position"]
    listed = await client.get("/v1/patients", headers=tenant.as_role("NURSE"))
    assert int(listed.headers["X-Projection-Position"]) >= 0


async def test_a_position_the_store_never_reached_is_refused_at_once(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """It could never be reached: no wait, no 503, a 422 naming the parameter."""
    created = await create_patient(client, tenant)
    began = time.monotonic()
    r = await client.get(
        f"/v1/patients/{created['id']}",
        params={"min_position": created["position"] + 1_000_000},
        headers=tenant.as_role("NURSE"),
    )
    assert time.monotonic() - began < 1
    assert_problem(r, 422, "VALIDATION_ERROR")
    assert {e["field"] for e in r.json()["errors"]} == {"min_position"}


async def test_min_position_must_be_a_positive_integer(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    for bad in ("0", "-3", "soon"):
        r = await client.get(
            "/v1/patients", params={"min_position": bad}, headers=tenant.as_role("NURSE")
        )
        assert r.status_code == 422, bad
        assert {e["field"] for e in r.json()["errors"]} == {"min_position"}


async def test_practitioner_day_shows_busy_slots_and_the_gaps_between(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    doc = await create_practitioner(client, tenant)
    day = (now() + dt.timedelta(days=4)).date()
    nine = dt.datetime.combine(day, dt.time(9), dt.UTC)
    hour = dt.timedelta(hours=1)
    later = await book(client, tenant, patient["id"], doc["id"], nine + 4 * hour, nine + 5 * hour)
    first = await book(client, tenant, patient["id"], doc["id"], nine, nine + hour)
    dropped = await book(client, tenant, patient["id"], doc["id"], nine + 2 * hour, nine + 3 * hour)
    assert later.is_success and first.is_success and dropped.is_success
    cancel = await act(client, tenant, dropped.json()["id"], "cancel", {"reason": "moved"})
    url = f"/v1/practitioners/{doc['id']}/day"
    params = {"date": day.isoformat(), "min_position": cancel["position"]}
    r = await client.get(url, params=params, headers=tenant.as_role("RECEPTIONIST"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [b["appointment_id"] for b in body["busy"]] == [first.json()["id"], later.json()["id"]]
    midnight = dt.datetime.combine(day, dt.time(), dt.UTC)
    free = [
        (dt.datetime.fromisoformat(f["start"]), dt.datetime.fromisoformat(f["end"]))
        for f in body["free"]
    ]
    assert free == [
        (midnight, nine),
        (nine + hour, nine + 4 * hour),
        (nine + 5 * hour, midnight + dt.timedelta(days=1)),
    ]
    foreign = await client.get(url, params=params, headers=other_tenant.as_role("RECEPTIONIST"))
    assert_problem(foreign, 404, "NOT_FOUND")
    unknown = f"/v1/practitioners/{uuid.uuid4()}/day"
    r = await client.get(unknown, params=params, headers=tenant.as_role("RECEPTIONIST"))
    assert_problem(r, 404, "NOT_FOUND")
