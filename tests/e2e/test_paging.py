"""Every list pages the same way (backend/api/paging.py): `{"items", "next_cursor"}`, `limit`
bounded, an opaque cursor that resumes after the last row, each row once across pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from admission_helpers import admitted, define_ward
from billing_helpers import CONSULT, issued
from e2e_helpers import book, create_patient, create_practitioner, error_fields
from support import TenantFixture, new_tenant
from visit_helpers import open_walk_in

from backend.api.paging import MAX_LIMIT

# 09:00 UTC a month from the day the suite runs: every booking is to come, at any hour.
DAY = dt.datetime.combine(
    dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30), dt.time(9), dt.UTC
)


@pytest.fixture(scope="module")
async def hospital(client: httpx.AsyncClient) -> tuple[TenantFixture, int]:
    """Three of everything the lists show, in one hospital; the last position written."""
    tenant = await new_tenant(client, kind="hospital")
    doctor = await create_practitioner(client, tenant)
    ward = await define_ward(client, tenant, "North", ["1", "2", "3"])
    await define_ward(client, tenant, "South", ["1"])
    await define_ward(client, tenant, "East", ["1"])
    last = 0
    for i in range(3):
        patient = await create_patient(client, tenant)
        start = DAY + dt.timedelta(hours=i)
        r = await book(
            client, tenant, patient["id"], doctor["id"], start, start + dt.timedelta(minutes=20)
        )
        assert r.status_code == 201, r.text
        await open_walk_in(client, tenant)
        await admitted(client, tenant, ward["id"], str(i + 1))
        last = max(last, (await issued(client, tenant, [CONSULT]))["position"])
    return tenant, last


LISTS = [
    ("/v1/patients", {}),
    ("/v1/appointments", {}),
    ("/v1/appointments", {"date": DAY.date().isoformat()}),
    ("/v1/visits", {}),
    ("/v1/admissions", {}),
    ("/v1/census", {}),
    ("/v1/wards/occupancy", {}),
    ("/v1/invoices", {}),
    ("/v1/ledger", {}),
    ("/v1/front-desk/day", {"date": DAY.date().isoformat()}),
]


async def _get(
    client: httpx.AsyncClient, tenant: TenantFixture, path: str, params: dict[str, Any]
) -> httpx.Response:
    return await client.get(path, params=params, headers=tenant.as_role("CLINIC_ADMIN"))


@pytest.mark.parametrize(("path", "params"), LISTS)
async def test_every_list_pages_with_a_cursor(
    client: httpx.AsyncClient,
    hospital: tuple[TenantFixture, int],
    path: str,
    params: dict[str, Any],
) -> None:
    tenant, last = hospital
    everything = await _get(
        client, tenant, path, {**params, "min_position": last, "limit": MAX_LIMIT}
    )
    assert everything.status_code == 200, everything.text
    whole = everything.json()
    assert whole["next_cursor"] is None
    assert len(whole["items"]) >= 3
    seen: list[Any] = []
    query: dict[str, Any] = {**params, "limit": 1}
    for _ in range(100):
        page = (await _get(client, tenant, path, query)).json()
        assert len(page["items"]) <= 1
        seen += page["items"]
        if page["next_cursor"] is None:
            break
        query["cursor"] = page["next_cursor"]
    assert seen == whole["items"]  # each row once, in the list's order


@pytest.mark.parametrize(("path", "params"), LISTS)
async def test_limit_is_bounded_and_cursors_are_checked(
    client: httpx.AsyncClient,
    hospital: tuple[TenantFixture, int],
    path: str,
    params: dict[str, Any],
) -> None:
    tenant, _ = hospital
    too_many = await _get(client, tenant, path, {**params, "limit": MAX_LIMIT + 1})
    assert error_fields(too_many) == {"limit"}
    for cursor in ("not a cursor", "bm90LWpzb24", "WyJ4Il0"):  # spaces; not JSON; wrong shape
        assert error_fields(await _get(client, tenant, path, {**params, "cursor": cursor})) == {
            "cursor"
        }
