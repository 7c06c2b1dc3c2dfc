"""Helpers for the end-to-end tests: build resources through the HTTP API and check problems."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from support import TenantFixture

PROBLEM = "application/problem+json"
PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def zone_at_hour(hour: int) -> str:
    """The whole-hour zone (Etc/GMT-14 to Etc/GMT+12) whose clocks read `hour` o'clock now."""
    offset = (hour - now().hour) % 24
    if offset > 14:
        offset -= 24
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")


def nearest_midnight(zone: str) -> dt.datetime:
    """The midnight nearest now on the clocks of `zone`: at 23:xx the coming one, at 00:xx the
    one just passed (so a test set at 23:xx still finds its midnight if the hour turns)."""
    local = now().astimezone(ZoneInfo(zone))
    return dt.datetime.combine((local + dt.timedelta(hours=12)).date(), dt.time(), local.tzinfo)


def midday_zone() -> str:
    """The whole-hour zone where it is about noon now: a tenant there keeps "now plus a few
    hours" on its today at whatever hour of the UTC day the suite runs."""
    return zone_at_hour(12)


async def set_policy(client: httpx.AsyncClient, tenant: TenantFixture, **changes: Any) -> None:
    """Changes the tenant's policy (PATCH /v1/tenant/policy, as its clinic admin)."""
    r = await client.patch(
        "/v1/tenant/policy", json=changes, headers=tenant.as_role("CLINIC_ADMIN")
    )
    assert r.status_code == 200, r.text


async def at_midday(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    """Moves the tenant to `midday_zone()`."""
    await set_policy(client, tenant, timezone=midday_zone())


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def when(moment: str) -> dt.datetime:
    return dt.datetime.fromisoformat(moment)


def assert_problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with the given status and stable code."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers["content-type"]
    body: dict[str, Any] = r.json()
    assert body.keys() >= PROBLEM_KEYS, body
    assert body["status"] == status
    assert body["code"] == code, body
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str)
    return body


def error_fields(r: httpx.Response, code: str = "VALIDATION_ERROR") -> set[str]:
    """The fields a 422 names."""
    body = assert_problem(r, 422, code)
    assert body["errors"], body
    for error in body["errors"]:
        assert isinstance(error["message"], str) and error["message"]
    return {e["field"] for e in body["errors"]}


def patient_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "given_name": "Ada",
        "family_name": f"Lovelace-{uuid.uuid4().hex[:6]}",
        "birth_date": "1815-12-10",
        "sex": "female",
    }
    body.update(overrides)
    return body


async def create_patient(
    client: httpx.AsyncClient, tenant: TenantFixture, **overrides: Any
) -> dict[str, Any]:
    r = await client.post(
        "/v1/patients", json=patient_body(**overrides), headers=tenant.as_role("RECEPTIONIST")
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def create_practitioner(
    client: httpx.AsyncClient, tenant: TenantFixture, name: str = "Dr. Grey"
) -> dict[str, Any]:
    r = await client.post(
        "/v1/practitioners",
        json={"name": name, "specialty": "general"},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def book(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    patient_id: str,
    practitioner_id: str,
    start: dt.datetime,
    end: dt.datetime,
    **extra: Any,
) -> httpx.Response:
    body = {
        "patient_id": patient_id,
        "practitioner_id": practitioner_id,
        "start": iso(start),
        "end": iso(end),
        **extra,
    }
    return await client.post("/v1/appointments", json=body, headers=tenant.as_role("RECEPTIONIST"))


async def booked(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    start: dt.datetime,
    minutes: int = 30,
    *,
    confirm: bool = False,
    back_charting_reason: str | None = None,
) -> dict[str, Any]:
    """A fresh patient and practitioner with one appointment at `start`, optionally confirmed
    (a start in the past needs `back_charting_reason`)."""
    patient = await create_patient(client, tenant)
    practitioner = await create_practitioner(client, tenant)
    end = start + dt.timedelta(minutes=minutes)
    extra = {} if back_charting_reason is None else {"back_charting_reason": back_charting_reason}
    r = await book(client, tenant, patient["id"], practitioner["id"], start, end, **extra)
    assert r.status_code == 201, r.text
    appointment: dict[str, Any] = r.json()
    if confirm:
        appointment = await act(client, tenant, appointment["id"], "confirm")
    return appointment


async def act_raw(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    appointment_id: str,
    action: str,
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    return await client.post(
        f"/v1/appointments/{appointment_id}/{action}",
        json=body,
        headers=tenant.as_role("RECEPTIONIST"),
    )


async def act(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    appointment_id: str,
    action: str,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    r = await act_raw(client, tenant, appointment_id, action, body)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


async def list_all_patients(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    q: str | None = None,
    limit: int = 200,
    *,
    after: int,
) -> list[dict[str, Any]]:
    """Every page of GET /v1/patients, following next_cursor, once the read model has applied
    position `after` (the last write the caller made)."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit, "min_position": after}
    if q is not None:
        params["q"] = q
    for _ in range(100):
        r = await client.get("/v1/patients", params=params, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        params["cursor"] = page["next_cursor"]
    raise AssertionError("pagination did not end")
