"""Helpers for the billing tests: invoices through the API and signed gateway webhooks."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import httpx
from e2e_helpers import create_patient
from support import FAKEPAY_SECRET, TenantFixture

from backend.billing.gateway import sign

CONSULT = {"code": "CONSULT", "description": "Consultation", "quantity": 1, "unit_price": "80.00"}
LAB = {"code": "LAB", "description": "Blood panel", "quantity": 3, "unit_price": "6.67"}


async def draft(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    lines: list[dict[str, Any]] | None = None,
    role: str = "RECEPTIONIST",
) -> dict[str, Any]:
    patient = await create_patient(client, tenant)
    r = await client.post(
        "/v1/invoices",
        json={"patient_id": patient["id"], "lines": lines or []},
        headers=tenant.as_role(role),
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def command(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    path: str,
    body: dict[str, Any] | None = None,
    role: str = "RECEPTIONIST",
) -> httpx.Response:
    return await client.post(f"/v1/invoices/{path}", json=body, headers=tenant.as_role(role))


async def issued(
    client: httpx.AsyncClient, tenant: TenantFixture, lines: list[dict[str, Any]]
) -> dict[str, Any]:
    invoice = await draft(client, tenant, lines)
    r = await command(client, tenant, f"{invoice['id']}/issue")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def capture_body(
    tenant: TenantFixture,
    invoice_id: str,
    amount: str,
    *,
    payment_id: str | None = None,
    currency: str = "USD",
) -> dict[str, Any]:
    return {
        "event": "payment.captured",
        "payment_id": payment_id or f"pay_{uuid.uuid4().hex[:12]}",
        "tenant_id": str(tenant.id),
        "invoice_id": invoice_id,
        "amount": amount,
        "currency": currency,
        "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
    }


async def deliver(
    client: httpx.AsyncClient,
    body: dict[str, Any],
    *,
    provider: str = "fakepay",
    secret: str = FAKEPAY_SECRET,
    signature: str | None = None,
) -> httpx.Response:
    """POST a webhook as the gateway does: the raw bytes and their HMAC."""
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    headers["X-Signature"] = sign(secret, raw) if signature is None else signature
    return await client.post(f"/v1/payments/webhook/{provider}", content=raw, headers=headers)


async def read_invoice(
    client: httpx.AsyncClient, tenant: TenantFixture, invoice_id: str, position: int
) -> dict[str, Any]:
    r = await client.get(
        f"/v1/invoices/{invoice_id}",
        params={"min_position": position},
        headers=tenant.as_role("FINANCE_BILLING"),
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def whole_ledger(
    client: httpx.AsyncClient, tenant: TenantFixture, position: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The tenant's ledger, every page of it once it has applied `position`: (entries, totals)."""
    entries: list[dict[str, Any]] = []
    params: dict[str, Any] = {"min_position": position, "limit": 50}
    while True:
        r = await client.get("/v1/ledger", params=params, headers=tenant.as_role("AUDITOR"))
        assert r.status_code == 200, r.text
        page = r.json()
        entries += page["items"]
        if page["next_cursor"] is None:
            return entries, page["totals"]
        params["cursor"] = page["next_cursor"]


async def all_invoices(
    client: httpx.AsyncClient, tenant: TenantFixture, position: int
) -> list[dict[str, Any]]:
    """Every invoice of the tenant, page by page, once the read model has applied `position`."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"min_position": position, "limit": 20}
    while True:
        r = await client.get("/v1/invoices", params=params, headers=tenant.as_role("AUDITOR"))
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        if r.json()["next_cursor"] is None:
            return items
        params["cursor"] = r.json()["next_cursor"]
