"""Every route is declared open to keys with a scope, or closed to them
(backend/auth/scopes.py), and on every route a key may call, a key is probed: another tenant's
resource is 404, a missing scope 403, a revoked or an expired key 401."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest
from billing_helpers import draft
from e2e_helpers import assert_problem, booked, now
from partner_helpers import make_key, with_key
from support import TenantFixture
from visit_helpers import open_walk_in

from backend.auth.scopes import CLOSED_TO_KEYS, EVENTS_READ, KEY_ROUTES, SCOPES

DEV_ONLY = {("GET", "/v1/dev/sign-in"), ("POST", "/v1/dev/sign-in")}
UNUSED_URL = "http://127.0.0.1:9/hooks"
"""Where the probes' subscriptions point: the discard port, nothing listens."""


def _body(method: str, path: str, ids: dict[str, str]) -> dict[str, Any] | None:
    """A body the route accepts, so that what is probed is the key alone (keys made now speak
    the current version)."""
    start = now() + dt.timedelta(days=5)
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/v1/patients"): {
            "given_name": "Ada",
            "family_name": "Byron",
            "birth_date": "1990-01-01",
            "sex": "female",
        },
        ("PATCH", "/v1/patients/{patient_id}"): {"given_name": "Adah"},
        ("POST", "/v1/appointments"): {
            "patient_id": ids["patient_id"],
            "practitioner_id": ids["practitioner_id"],
            "start": start.isoformat(),
            "end": (start + dt.timedelta(minutes=20)).isoformat(),
        },
        ("POST", "/v1/appointments/{appointment_id}/cancel"): {"reason": "partner cancelled"},
        ("POST", "/v1/holds"): {
            "practitioner_id": ids["practitioner_id"],
            "start": start.isoformat(),
            "end": (start + dt.timedelta(minutes=20)).isoformat(),
        },
        ("POST", "/v1/holds/{hold_id}/confirm"): {"patient_id": ids["patient_id"]},
        ("POST", "/v1/subscriptions"): {"url": UNUSED_URL, "types": ["PatientRegistered"]},
        ("POST", "/v1/subscriptions/{subscription_id}/replay"): {"from_position": 0},
    }
    return bodies.get((method, path))


async def test_every_route_is_declared_open_to_keys_or_closed_to_them(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    served = {(method.upper(), path) for path, item in paths.items() for method in item}
    declared = set(KEY_ROUTES) | CLOSED_TO_KEYS
    assert served - declared == set(), "routes neither open nor closed to keys"
    assert declared - served - DEV_ONLY == set(), "declared routes the API does not serve"
    assert set(KEY_ROUTES).isdisjoint(CLOSED_TO_KEYS)
    assert set(KEY_ROUTES.values()) <= SCOPES


async def _resources(
    client: httpx.AsyncClient, tenant: TenantFixture, path: str, owner: dict[str, Any]
) -> dict[str, str]:
    """One of each resource a key reads or acts on, in `tenant`: path parameter → id. The
    appointment is requested (a confirmation probes it), else confirmed and due (check-in); the
    subscription is `owner`'s (a key manages its own only)."""
    requested = path.endswith("/confirm")
    appointment = await booked(
        client, tenant, now() + dt.timedelta(minutes=10), confirm=not requested
    )
    visit = await open_walk_in(client, tenant)
    invoice = await draft(client, tenant)
    body = {"url": UNUSED_URL, "types": ["PatientRegistered"]}
    r = await client.post("/v1/subscriptions", json=body, headers=with_key(owner))
    assert r.status_code == 201, r.text
    return {
        **await _scheduling(client, tenant, path, visit.doctor_id),
        "subscription_id": r.json()["id"],
        "patient_id": visit.patient_id,
        "practitioner_id": visit.doctor_id,
        "appointment_id": appointment["id"],
        "visit_id": visit.id,
        "invoice_id": invoice["id"],
    }


async def _scheduling(
    client: httpx.AsyncClient, tenant: TenantFixture, path: str, practitioner_id: str
) -> dict[str, str]:
    """Working hours for the free slots (every hour of every day), a hold for its routes."""
    desk = tenant.as_role("RECEPTIONIST")
    if path == "/v1/slots":
        weekly = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in ("mon", "tue", "wed")]
        r = await client.put(
            f"/v1/practitioners/{practitioner_id}/working-hours",
            json={"weekly": weekly, "slot_minutes": 60},
            headers=desk,
        )
        assert r.status_code == 200, r.text
    if "{hold_id}" not in path:
        return {}
    start = now() + dt.timedelta(days=3)
    body = {
        "practitioner_id": practitioner_id,
        "start": start.isoformat(),
        "end": (start + dt.timedelta(minutes=20)).isoformat(),
    }
    r = await client.post("/v1/holds", json=body, headers=desk)
    assert r.status_code == 201, r.text
    return {"hold_id": r.json()["id"]}


QUERIES = {"/v1/slots": ("practitioner_id",)}
"""Routes naming a resource in their query rather than their path (another tenant's → 404)."""


def _request(method: str, path: str, ids: dict[str, str]) -> dict[str, Any]:
    request = {"method": method, "url": path.format(**ids), "json": _body(method, path, ids)}
    if path in QUERIES:
        day = now().date()
        named = {name: ids[name] for name in QUERIES[path]}
        request["params"] = {**named, "from": str(day), "to": str(day + dt.timedelta(days=6))}
    return request


@pytest.mark.parametrize("route", sorted(KEY_ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
async def test_a_key_is_held_to_its_tenant_scope_and_life_on_every_route(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    other_tenant: TenantFixture,
    route: tuple[str, str],
) -> None:
    method, path = route
    needed = KEY_ROUTES[route]
    owner = await make_key(client, tenant, {needed, EVENTS_READ})
    ids = await _resources(client, tenant, path, owner)
    request = _request(method, path, ids)

    outsider = with_key(await make_key(client, other_tenant))
    r = await client.request(**request, headers=outsider)
    if "{" in path or path in QUERIES:
        assert_problem(r, 404, "NOT_FOUND")
    elif method == "GET":
        assert r.status_code == 200, r.text
        listed = {str(item.get("id", item.get("stream_id"))) for item in r.json()["items"]}
        assert not set(ids.values()) & listed

    lacking = with_key(await make_key(client, tenant, SCOPES - {needed}))
    assert_problem(await client.request(**request, headers=lacking), 403, "INSUFFICIENT_SCOPE")

    revoked = await make_key(client, tenant, {needed})
    admin = tenant.as_role("CLINIC_ADMIN")
    assert (await client.delete(f"/v1/api-keys/{revoked['id']}", headers=admin)).is_success
    r = await client.request(**request, headers=with_key(revoked))
    assert_problem(r, 401, "UNAUTHENTICATED")

    soon = (now() + dt.timedelta(seconds=1)).isoformat()
    expiring = await make_key(client, tenant, {needed}, expires_at=soon)
    await asyncio.sleep(1.2)
    r = await client.request(**request, headers=with_key(expiring))
    assert_problem(r, 401, "UNAUTHENTICATED")

    allowed = with_key(owner)
    r = await client.request(**request, headers=allowed)
    assert r.status_code < 300, (route, r.text)
