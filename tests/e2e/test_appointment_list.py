"""GET /v1/appointments filtered by UTC day, practitioner and status."""

import datetime as dt

import httpx
from e2e_helpers import act, book, create_patient, create_practitioner, error_fields, now
from support import TenantFixture

H = dt.timedelta(hours=1)


async def _list(client: httpx.AsyncClient, tenant: TenantFixture, **params: str) -> list[str]:
    r = await client.get("/v1/appointments", params=params, headers=tenant.as_role("AUDITOR"))
    assert r.status_code == 200, r.text
    return [a["id"] for a in r.json()["items"]]


async def test_filters_by_day_practitioner_and_status(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    doc = await create_practitioner(client, tenant)
    colleague = await create_practitioner(client, tenant)
    day = (now() + dt.timedelta(days=5)).replace(hour=8, minute=0, second=0, microsecond=0)

    async def at(start: dt.datetime, practitioner: dict[str, str]) -> str:
        r = await book(client, tenant, patient["id"], practitioner["id"], start, start + H / 2)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    late = await at(day + 6 * H, doc)
    early = await at(day + H, doc)
    cancelled = await at(day + 3 * H, doc)
    next_day = await at(day + 24 * H, doc)
    colleagues = await at(day + H, colleague)
    await act(client, tenant, early, "confirm")
    await act(client, tenant, cancelled, "cancel", {"reason": "rebooked"})

    date, pid = day.date().isoformat(), doc["id"]
    assert await _list(client, tenant, date=date, practitioner_id=pid) == [early, cancelled, late]
    assert await _list(client, tenant, date=date, practitioner_id=pid, status="confirmed") == [
        early
    ]
    assert await _list(client, tenant, date=date, practitioner_id=pid, status="cancelled") == [
        cancelled
    ]
    assert await _list(client, tenant, date=date, practitioner_id=pid, status="no_show") == []
    next_date = (day + 24 * H).date().isoformat()
    assert await _list(client, tenant, date=next_date, practitioner_id=pid) == [next_day]
    assert set(await _list(client, tenant, date=date)) == {early, cancelled, late, colleagues}
    assert set(await _list(client, tenant, practitioner_id=pid)) == {
        early,
        cancelled,
        late,
        next_day,
    }


async def test_day_is_the_utc_day_of_the_start(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    doc = await create_practitioner(client, tenant)
    utc_late = (now() + dt.timedelta(days=6)).replace(hour=23, minute=30, second=0, microsecond=0)
    local = utc_late.astimezone(dt.timezone(dt.timedelta(hours=2)))  # already the next day there
    r = await book(client, tenant, patient["id"], doc["id"], local, local + H / 2)
    assert r.status_code == 201, r.text
    pid = doc["id"]
    assert await _list(client, tenant, date=utc_late.date().isoformat(), practitioner_id=pid) == [
        r.json()["id"]
    ]
    assert await _list(client, tenant, date=local.date().isoformat(), practitioner_id=pid) == []


async def test_list_is_tenant_scoped(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    doc = await create_practitioner(client, tenant)
    start = now() + dt.timedelta(days=2)
    assert (await book(client, tenant, patient["id"], doc["id"], start, start + H)).is_success
    assert await _list(client, other_tenant, practitioner_id=doc["id"]) == []


async def test_bad_filters_are_422(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    headers = tenant.as_role("RECEPTIONIST")
    r = await client.get("/v1/appointments", params={"status": "lost"}, headers=headers)
    assert error_fields(r) == {"status"}
    r = await client.get("/v1/appointments", params={"date": "31/12/2030"}, headers=headers)
    assert error_fields(r) == {"date"}
