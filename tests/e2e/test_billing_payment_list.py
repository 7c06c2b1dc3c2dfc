"""Finance sees every payment the gateway reported (GET /v1/payments): captured, refused (money
applied to no invoice) and refunded, filtered and paged; and a payment's valid time is bounded
(a payment dated 1999 does not post before its invoice existed)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from billing_helpers import CONSULT, capture_body, command, deliver, issued
from e2e_helpers import assert_problem, error_fields
from support import TenantFixture


async def payments(
    client: httpx.AsyncClient, tenant: TenantFixture, position: int, **params: Any
) -> dict[str, Any]:
    r = await client.get(
        "/v1/payments",
        params={"min_position": position, **params},
        headers=tenant.as_role("FINANCE_BILLING"),
    )
    assert r.status_code == 200, r.text
    assert int(r.headers["X-Projection-Position"]) >= position
    body: dict[str, Any] = r.json()
    return body


async def test_finance_lists_captured_refused_and_refunded_payments(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    invoice = await issued(client, tenant, [CONSULT])
    paid = (await deliver(client, capture_body(tenant, invoice["id"], "50.00"))).json()
    refused = await deliver(client, capture_body(tenant, invoice["id"], "12.00", currency="EUR"))
    assert refused.status_code == 422
    refund = {"payment_id": paid["id"], "amount": "5.00", "reason": "x"}
    r = await command(client, tenant, f"{invoice['id']}/refunds", refund, "FINANCE_BILLING")
    assert r.status_code == 201, r.text
    other = (await deliver(client, capture_body(tenant, invoice["id"], "30.00"))).json()
    last = max(r.json()["position"], other["position"])

    every = await payments(client, tenant, last)
    assert len(every["items"]) == 3 and every["next_cursor"] is None
    [unapplied] = (await payments(client, tenant, last, status="refused"))["items"]
    assert (unapplied["refusal_code"], unapplied["amount"], unapplied["unapplied"]) == (
        "CURRENCY_MISMATCH",
        "12.00",
        "12.00",
    )
    [refunded] = (await payments(client, tenant, last, status="refunded"))["items"]
    assert (refunded["id"], refunded["refunded"], refunded["unapplied"]) == (
        paid["id"],
        "5.00",
        "0.00",
    )
    assert [x["amount"] for x in refunded["refunds"]] == ["5.00"]
    captured = (await payments(client, tenant, last, status="captured"))["items"]
    assert {p["id"] for p in captured} == {paid["id"], other["id"]}
    mine = await payments(client, tenant, last, invoice_id=invoice["id"], provider="fakepay")
    assert len(mine["items"]) == 3
    assert (await payments(client, tenant, last, provider="otherpay"))["items"] == []

    pages, cursor = [], None
    while True:
        page = await payments(
            client, tenant, last, limit=1, **({"cursor": cursor} if cursor else {})
        )
        pages += page["items"]
        if (cursor := page["next_cursor"]) is None:
            break
    assert pages == every["items"]

    assert (await payments(client, other_tenant, last))["items"] == []
    for role in ("RECEPTIONIST", "DOCTOR"):
        r = await client.get("/v1/payments", headers=tenant.as_role(role))
        assert_problem(r, 403, "FORBIDDEN")
    for role in ("AUDITOR", "CLINIC_ADMIN"):
        r = await client.get("/v1/payments", headers=tenant.as_role(role))
        assert r.status_code == 200, r.text
    too_many = await client.get(
        "/v1/payments", params={"limit": 501}, headers=tenant.as_role("AUDITOR")
    )
    assert error_fields(too_many) == {"limit"}


async def test_a_payment_dated_1999_posts_when_its_invoice_could_be_paid(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    invoice = await issued(client, tenant, [CONSULT])
    body = {**capture_body(tenant, invoice["id"], "80.00"), "occurred_at": "1999-01-01T00:00:00Z"}
    paid = (await deliver(client, body)).json()
    r = await client.get(
        f"/v1/streams/invoice/{invoice['id']}/events", headers=tenant.as_role("AUDITOR")
    )
    drafted_at = dt.datetime.fromisoformat(r.json()["events"][0]["occurred_at"])
    r = await client.get(
        f"/v1/streams/payment/{paid['id']}/events", headers=tenant.as_role("AUDITOR")
    )
    [captured] = r.json()["events"]
    assert dt.datetime.fromisoformat(captured["occurred_at"]) >= drafted_at
    r = await client.get(
        "/v1/ledger",
        params={"invoice_id": invoice["id"], "min_position": paid["position"]},
        headers=tenant.as_role("AUDITOR"),
    )
    times = {dt.datetime.fromisoformat(e["occurred_at"]) for e in r.json()["items"]}
    assert min(times) >= drafted_at
