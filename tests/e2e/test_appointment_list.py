"""GET /v1/appointments filtered by day (the tenant's: test_local_days.py), practitioner and
status."""

import datetime as dt

import httpx
from e2e_helpers import act, book, create_patient, create_practitioner, error_fields, now
from support import TenantFixture

H = dt.timedelta(hours=1)


async def _list(
    client: httpx.AsyncClient, tenant: TenantFixture, after: int, **params: str
) -> list[str]:
    """Appointment ids listed once the read model has applied position `after`."""
    query = {**params, "min_position": after}
    r = await client.get("/v1/appointments", params=query, headers=tenant.as_role("AUDITOR"))
    assert r.status_code == 200, r.text
    return [a["id"] for a in r.json()["items"]]


async def test_filters_by_day_practitioner_and_status(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    other_patient = await create_patient(client, tenant)
    doc = await create_practitioner(client, tenant)
    colleague = await create_practitioner(client, tenant)
    day = (now() + dt.timedelta(days=5)).replace(hour=8, minute=0, second=0, microsecond=0)

    async def at(start: dt.datetime, practitioner: dict[str, str]) -> str:
        who = patient if practitioner is doc else other_patient  # a patient is in one place
        r = await book(client, tenant, who["id"], practitioner["id"], start, start + H / 2)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    late = await at(day + 6 * H, doc)
    early = await at(day + H, doc)
    cancelled = await at(day + 3 * H, doc)
    next_day = await at(day + 24 * H, doc)
    colleagues = await at(day + H, colleague)
    await act(client, tenant, early, "confirm")
    last = (await act(client, tenant, cancelled, "cancel", {"reason": "rebooked"}))["position"]

    date, pid = day.date().isoformat(), doc["id"]
    on_day = {"date": date, "practitioner_id": pid}
    assert await _list(client, tenant, last, **on_day) == [early, cancelled, late]
    assert await _list(client, tenant, last, **on_day, status="confirmed") == [early]
    assert await _list(client, tenant, last, **on_day, status="cancelled") == [cancelled]
    assert await _list(client, tenant, last, **on_day, status="no_show") == []
    next_date = (day + 24 * H).date().isoformat()
    assert await _list(client, tenant, last, date=next_date, practitioner_id=pid) == [next_day]
    assert set(await _list(client, tenant, last, date=date)) == {early, cancelled, late, colleagues}
    assert set(await _list(client, tenant, last, practitioner_id=pid)) == {
        early,
        cancelled,
        late,
        next_day,
    }


async def test_a_utc_tenants_day_is_the_utc_day_whatever_offset_was_typed(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    doc = await create_practitioner(client, tenant)
    utc_late = (now() + dt.timedelta(days=6)).replace(hour=23, minute=30, second=0, microsecond=0)
    local = utc_late.astimezone(dt.timezone(dt.timedelta(hours=2)))  # already the next day there
    r = await book(client, tenant, patient["id"], doc["id"], local, local + H / 2)
    assert r.status_code == 201, r.text
    pid, at = doc["id"], r.json()["position"]
    utc_day, local_day = utc_late.date().isoformat(), local.date().isoformat()
    assert await _list(client, tenant, at, date=utc_day, practitioner_id=pid) == [r.json()["id"]]
    assert await _list(client, tenant, at, date=local_day, practitioner_id=pid) == []


async def test_list_is_tenant_scoped(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    doc = await create_practitioner(client, tenant)
    start = now() + dt.timedelta(days=2)
    booked = await book(client, tenant, patient["id"], doc["id"], start, start + H)
    assert booked.is_success
    at = booked.json()["position"]
    assert await _list(client, other_tenant, at, practitioner_id=doc["id"]) == []


async def test_bad_filters_are_422(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    headers = tenant.as_role("RECEPTIONIST")
    r = await client.get("/v1/appointments", params={"status": "lost"}, headers=headers)
    assert error_fields(r) == {"status"}
    r = await client.get("/v1/appointments", params={"date": "31/12/2030"}, headers=headers)
    assert error_fields(r) == {"date"}
