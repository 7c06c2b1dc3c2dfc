"""Payments through the signed gateway webhook, refunds through the gateway adapter, and the
ledger they leave: the whole path of one invoice, then each rule on its own."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from billing_helpers import (
    CONSULT,
    LAB,
    capture_body,
    command,
    deliver,
    draft,
    issued,
    read_invoice,
)
from e2e_helpers import assert_problem, error_fields
from fastapi import FastAPI
from support import TenantFixture

from backend.auth.principal import Principal, Role
from backend.billing import service
from backend.billing.gateway import FakeGateway, RefundRequest
from backend.billing.payment import payment_stream_id, refund_id_for
from backend.eventstore import EventStore
from backend.handling import CommandResult, RequestContext, run_command


@pytest.fixture
def gateway(app: FastAPI) -> Iterator[FakeGateway]:
    """A fresh fake gateway for this test (same webhook secrets), the app's again after it."""
    before = app.state.gateway
    fresh = FakeGateway(app.state.settings.payment_webhook_secrets)
    app.state.gateway = fresh
    yield fresh
    app.state.gateway = before


async def ledger(
    client: httpx.AsyncClient, tenant: TenantFixture, invoice_id: str, position: int
) -> dict[str, Any]:
    r = await client.get(
        "/v1/ledger",
        params={"invoice_id": invoice_id, "min_position": position},
        headers=tenant.as_role("AUDITOR"),
    )
    assert r.status_code == 200, r.text
    assert int(r.headers["X-Projection-Position"]) >= position
    body: dict[str, Any] = r.json()
    return body


async def stream_events(
    client: httpx.AsyncClient, tenant: TenantFixture, stream_type: str, stream_id: str
) -> list[str]:
    r = await client.get(
        f"/v1/streams/{stream_type}/{stream_id}/events", headers=tenant.as_role("AUDITOR")
    )
    assert r.status_code == 200, r.text
    return [e["type"] for e in r.json()["events"]]


def assert_balanced(book: dict[str, Any]) -> None:
    """Every journal balances, and so does the whole."""
    journals: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for entry in book["items"]:
        journals[entry["journal_id"]][0] += Decimal(entry["debit"])
        journals[entry["journal_id"]][1] += Decimal(entry["credit"])
    assert journals
    for journal_id, (debit, credit) in journals.items():
        assert debit == credit, journal_id
    debits = sum(Decimal(t["debit"]) for t in book["totals"])
    credits = sum(Decimal(t["credit"]) for t in book["totals"])
    assert debits == credits


def totals(book: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {t["account"]: (t["debit"], t["credit"]) for t in book["totals"]}


async def test_an_invoice_from_draft_to_refund(
    client: httpx.AsyncClient, tenant: TenantFixture, gateway: FakeGateway
) -> None:
    invoice = await draft(client, tenant, [CONSULT])
    invoice_id = invoice["id"]
    r = await command(client, tenant, f"{invoice_id}/lines", LAB)
    assert r.status_code == 201, r.text
    discount = {"percent": "20", "reason": "hardship"}
    refused = await command(client, tenant, f"{invoice_id}/discount", discount)
    assert_problem(refused, 403, "DISCOUNT_NEEDS_APPROVAL")
    r = await command(client, tenant, f"{invoice_id}/discount", discount, role="CLINIC_ADMIN")
    assert r.status_code == 200, r.text
    r = await command(client, tenant, f"{invoice_id}/issue")
    assert r.status_code == 200, r.text
    issued_invoice = r.json()
    # 100.01 less 20 % (20.002 -> 20.00)
    assert (issued_invoice["status"], issued_invoice["total"]) == ("issued", "80.01")

    # The second partial payment arrives first; the first is delivered twice.
    second = capture_body(tenant, invoice_id, "30.01", payment_id="pay_second")
    first = capture_body(tenant, invoice_id, "50.00", payment_id="pay_first")
    r = await deliver(client, second)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "captured"
    partly = await read_invoice(client, tenant, invoice_id, r.json()["position"])
    assert (partly["status"], partly["paid"], partly["balance"]) == (
        "partially_paid",
        "30.01",
        "50.00",
    )
    once = await deliver(client, first)
    twice = await deliver(client, first)
    assert once.status_code == twice.status_code == 200
    assert twice.json() == once.json()  # nothing happened in between: the very same answer
    assert once.json()["id"] == str(payment_stream_id("fakepay", "pay_first"))
    assert await stream_events(client, tenant, "payment", once.json()["id"]) == ["PaymentCaptured"]
    paid = await read_invoice(client, tenant, invoice_id, once.json()["position"])
    assert (paid["status"], paid["paid"], paid["balance"]) == ("paid", "80.01", "0.00")
    assert paid["version"] == issued_invoice["version"] + 2

    # Refunds: never more than what is left of the payment.
    refund = {"payment_id": once.json()["id"], "amount": "10.00", "reason": "lab not done"}
    r = await command(client, tenant, f"{invoice_id}/refunds", refund, role="RECEPTIONIST")
    assert_problem(r, 403, "FORBIDDEN")
    r = await command(client, tenant, f"{invoice_id}/refunds", refund, role="FINANCE_BILLING")
    assert r.status_code == 201, r.text
    refunded = r.json()  # the refund cancels 10.00 of the charge: nothing more is owed
    assert (refunded["status"], refunded["refunded"], refunded["balance"]) == (
        "paid",
        "10.00",
        "0.00",
    )
    assert refunded["refund"]["gateway_reference"].startswith("fakepay_re_")
    [asked] = gateway.refunds.values()
    assert (asked.provider_payment_id, asked.amount, asked.currency) == (
        "pay_first",
        Decimal("10.00"),
        "USD",
    )
    too_much = {**refund, "amount": "40.01"}
    r = await command(client, tenant, f"{invoice_id}/refunds", too_much, role="CLINIC_ADMIN")
    assert_problem(r, 409, "REFUND_EXCEEDS_PAYMENT")
    rest = {**refund, "amount": "40.00"}
    r = await command(client, tenant, f"{invoice_id}/refunds", rest, role="CLINIC_ADMIN")
    assert r.status_code == 201, r.text
    assert len(gateway.refunds) == 2
    assert await stream_events(client, tenant, "payment", once.json()["id"]) == [
        "PaymentCaptured",
        "RefundIssued",
        "RefundIssued",
    ]
    final = await read_invoice(client, tenant, invoice_id, r.json()["position"])
    assert (final["status"], final["paid"], final["refunded"], final["balance"]) == (
        "paid",
        "80.01",
        "50.00",
        "0.00",
    )

    book = await ledger(client, tenant, invoice_id, r.json()["position"])
    assert_balanced(book)
    assert totals(book) == {
        "accounts_receivable": ("80.01", "80.01"),
        "cash": ("80.01", "50.00"),
        "discounts": ("20.00", "0.00"),
        "refunds": ("50.00", "0.00"),
        "revenue": ("0.00", "100.01"),
    }
    assert len({e["journal_id"] for e in book["items"]}) == 5  # issue, 2 captures, 2 refunds
    tenant_wide = await client.get(
        "/v1/ledger",
        params={"min_position": r.json()["position"], "limit": 2},
        headers=tenant.as_role("FINANCE_BILLING"),
    )
    page = tenant_wide.json()
    assert len(page["items"]) == 2  # postings, in commit order
    assert page["next_cursor"] is not None
    assert totals(page) == totals(book)


async def test_bad_or_missing_signature_is_refused(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    invoice = await issued(client, tenant, [CONSULT])
    body = capture_body(tenant, invoice["id"], "80.00")
    for r in (
        await deliver(client, body, secret="not-the-secret"),
        await deliver(client, body, signature=""),
        await deliver(client, body, signature="sha256=" + "0" * 64),
        await client.post("/v1/payments/webhook/fakepay", json=body),
    ):
        assert_problem(r, 401, "BAD_SIGNATURE")
    unknown = await deliver(client, body, provider="nopay")
    assert_problem(unknown, 404, "NOT_FOUND")
    after = await read_invoice(client, tenant, invoice["id"], invoice["position"])
    assert after["paid"] == "0.00"


async def test_a_signed_but_malformed_body_names_the_field(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    invoice = await issued(client, tenant, [CONSULT])
    good = capture_body(tenant, invoice["id"], "80.00")
    for change, field in (
        ({"amount": 80.0}, "amount"),
        ({"amount": "80.001"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"currency": "usd"}, "currency"),
        ({"invoice_id": "nope"}, "invoice_id"),
    ):
        assert error_fields(await deliver(client, {**good, **change})) == {field}
    no_tenant = await deliver(client, {**good, "tenant_id": str(uuid.uuid4())})
    assert error_fields(no_tenant) == {"tenant_id"}


async def test_other_gateway_events_are_acknowledged_and_ignored(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    invoice = await issued(client, tenant, [CONSULT])
    body = {**capture_body(tenant, invoice["id"], "80.00"), "event": "payment.authorized"}
    r = await deliver(client, body)
    assert r.status_code == 200 and r.json()["status"] == "ignored"
    stream = payment_stream_id("fakepay", body["payment_id"])
    missing = await client.get(
        f"/v1/streams/payment/{stream}/events", headers=tenant.as_role("AUDITOR")
    )
    assert_problem(missing, 404, "NOT_FOUND")


async def test_a_currency_mismatch_is_recorded_as_refused(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    invoice = await issued(client, tenant, [CONSULT])
    body = capture_body(tenant, invoice["id"], "80.00", currency="EUR")
    first = await deliver(client, body)
    assert error_fields(first, "CURRENCY_MISMATCH") == {"currency"}
    again = await deliver(client, body)
    assert again.status_code == 422 and again.json() == first.json()
    stream = payment_stream_id("fakepay", body["payment_id"])
    assert await stream_events(client, tenant, "payment", str(stream)) == ["PaymentRefused"]
    assert await stream_events(client, tenant, "invoice", invoice["id"]) == [
        "InvoiceDrafted",
        "InvoiceLineAdded",
        "InvoiceIssued",
    ]
    refund = {"payment_id": str(stream), "amount": "1.00", "reason": "x"}
    r = await command(client, tenant, f"{invoice['id']}/refunds", refund, role="CLINIC_ADMIN")
    assert_problem(r, 409, "PAYMENT_NOT_CAPTURED")


async def test_a_capture_for_a_draft_is_kept_and_counts_at_issue(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    invoice = await draft(client, tenant, [CONSULT])
    r = await deliver(client, capture_body(tenant, invoice["id"], "80.00"))
    assert r.status_code == 200, r.text
    still_draft = await read_invoice(client, tenant, invoice["id"], r.json()["position"])
    assert (still_draft["status"], still_draft["paid"]) == ("draft", "80.00")
    done = await command(client, tenant, f"{invoice['id']}/issue")
    assert done.json()["status"] == "paid"
    book = await ledger(client, tenant, invoice["id"], done.json()["position"])
    assert_balanced(book)
    assert totals(book)["accounts_receivable"] == ("80.00", "80.00")


async def test_an_overpayment_is_a_credit(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    invoice = await issued(client, tenant, [CONSULT])
    r = await deliver(client, capture_body(tenant, invoice["id"], "100.00"))
    over = await read_invoice(client, tenant, invoice["id"], r.json()["position"])
    assert (over["status"], over["balance"], over["credit"]) == ("paid", "-20.00", "20.00")
    book = await ledger(client, tenant, invoice["id"], r.json()["position"])
    assert_balanced(book)
    assert totals(book)["accounts_receivable"] == ("80.00", "100.00")


async def test_concurrent_deliveries_record_one_payment(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    invoice = await issued(client, tenant, [CONSULT])
    body = capture_body(tenant, invoice["id"], "80.00")
    replies = await asyncio.gather(*(deliver(client, body) for _ in range(5)))
    assert {r.status_code for r in replies} == {200}
    assert len({(r.json()["id"], r.json()["version"]) for r in replies}) == 1
    assert await stream_events(client, tenant, "payment", replies[0].json()["id"]) == [
        "PaymentCaptured"
    ]
    position = max(r.json()["position"] for r in replies)
    assert (await read_invoice(client, tenant, invoice["id"], position))["paid"] == "80.00"


async def test_a_failed_gateway_refund_records_nothing(
    client: httpx.AsyncClient, tenant: TenantFixture, gateway: FakeGateway
) -> None:
    invoice = await issued(client, tenant, [CONSULT])
    paid = (await deliver(client, capture_body(tenant, invoice["id"], "80.00"))).json()
    gateway.failing = True
    refund = {"payment_id": paid["id"], "amount": "80.00", "reason": "x"}
    r = await command(client, tenant, f"{invoice['id']}/refunds", refund, role="CLINIC_ADMIN")
    assert_problem(r, 502, "GATEWAY_ERROR")
    assert await stream_events(client, tenant, "payment", paid["id"]) == ["PaymentCaptured"]


async def test_payments_and_ledgers_stay_in_their_tenant(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    invoice = await issued(client, tenant, [CONSULT])
    paid = (await deliver(client, capture_body(tenant, invoice["id"], "80.00"))).json()
    # A capture naming another tenant cannot reach this tenant's invoice.
    elsewhere = await deliver(client, capture_body(other_tenant, invoice["id"], "80.00"))
    assert error_fields(elsewhere, "UNKNOWN_INVOICE") == {"invoice_id"}
    refund = {"payment_id": paid["id"], "amount": "1.00", "reason": "x"}
    r = await command(client, other_tenant, f"{invoice['id']}/refunds", refund, role="CLINIC_ADMIN")
    assert_problem(r, 404, "NOT_FOUND")
    book = await ledger(client, other_tenant, invoice["id"], paid["position"])
    assert book == {"items": [], "next_cursor": None, "totals": []}
    r = await client.get(
        "/v1/ledger", params={"invoice_id": invoice["id"]}, headers=tenant.as_role("RECEPTIONIST")
    )
    assert_problem(r, 403, "FORBIDDEN")


async def test_openapi_shows_the_webhook_without_bearer_auth(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    webhook = spec["paths"]["/v1/payments/webhook/{provider}"]["post"]
    assert webhook["security"] == []
    assert {p["name"] for p in webhook["parameters"]} == {"provider", "x-signature"}
    draft_op = spec["paths"]["/v1/invoices"]["post"]
    assert draft_op["security"] == [{"bearer": []}]
    price = spec["components"]["schemas"]["InvoiceLine"]["properties"]["unit_price"]
    assert price["type"] == "string"


async def test_a_refund_repeated_with_its_idempotency_key_refunds_once(
    client: httpx.AsyncClient, tenant: TenantFixture, gateway: FakeGateway
) -> None:
    invoice = await issued(client, tenant, [CONSULT])
    paid = (await deliver(client, capture_body(tenant, invoice["id"], "80.00"))).json()
    headers = {**tenant.as_role("FINANCE_BILLING"), "Idempotency-Key": f"refund-{paid['id']}"}
    refund = {"payment_id": paid["id"], "amount": "30.00", "reason": "x"}
    path = f"/v1/invoices/{invoice['id']}/refunds"
    first = await client.post(path, json=refund, headers=headers)
    again = await client.post(path, json=refund, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert len(gateway.refunds) == 1
    assert await stream_events(client, tenant, "payment", paid["id"]) == [
        "PaymentCaptured",
        "RefundIssued",
    ]


class _SlowGateway(FakeGateway):
    """A provider that answers after the refund's time limit."""

    async def refund(self, request: RefundRequest) -> str:
        await asyncio.sleep(service.GATEWAY_SECONDS * 2)
        return await super().refund(request)


async def test_a_provider_too_slow_to_refund_records_nothing(
    client: httpx.AsyncClient, tenant: TenantFixture, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refund runs inside the command's transaction, which PostgreSQL ends after 5 s idle:
    a provider slower than the limit is a 502 with nothing recorded, not a refund lost."""
    monkeypatch.setattr(service, "GATEWAY_SECONDS", 0.2)
    invoice = await issued(client, tenant, [CONSULT])
    paid = (await deliver(client, capture_body(tenant, invoice["id"], "80.00"))).json()
    before = app.state.gateway  # not monkeypatch: it would delete it from app.state after
    app.state.gateway = _SlowGateway(app.state.settings.payment_webhook_secrets)
    try:
        refund = {"payment_id": paid["id"], "amount": "80.00", "reason": "x"}
        r = await command(client, tenant, f"{invoice['id']}/refunds", refund, role="CLINIC_ADMIN")
    finally:
        app.state.gateway = before
    assert_problem(r, 502, "GATEWAY_ERROR")
    assert await stream_events(client, tenant, "payment", paid["id"]) == ["PaymentCaptured"]


class _RefundsThenTimesOut(FakeGateway):
    """A provider that refunds and then answers after the refund's time limit, once."""

    def __init__(self, secrets: dict[str, str]) -> None:
        super().__init__(secrets)
        self.slow_once = True

    async def refund(self, request: RefundRequest) -> str:
        reference = await super().refund(request)
        if self.slow_once:
            self.slow_once = False
            await asyncio.sleep(service.GATEWAY_SECONDS * 5)
        return reference


async def test_a_refund_retried_after_a_provider_timeout_refunds_once(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    app: FastAPI,
    store: EventStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The provider refunded but we answered 502: the refund id, the provider's idempotency
    key, derives from the request's Idempotency-Key, so asking again refunds nothing more.
    The retry goes through HTTP (answered with the stored 502 or, where refused commands store
    nothing, with the refund) and through the handler the route runs; either way the provider
    holds one refund and the books record it at most once."""
    monkeypatch.setattr(service, "GATEWAY_SECONDS", 0.2)
    invoice = await issued(client, tenant, [CONSULT])
    paid = (await deliver(client, capture_body(tenant, invoice["id"], "80.00"))).json()
    provider = _RefundsThenTimesOut(app.state.settings.payment_webhook_secrets)
    before = app.state.gateway  # not monkeypatch: it would delete it from app.state after
    app.state.gateway = provider
    try:
        headers = {**tenant.as_role("FINANCE_BILLING", actor="fin-1"), "Idempotency-Key": "rf-1"}
        path = f"/v1/invoices/{invoice['id']}/refunds"
        refund = {"payment_id": paid["id"], "amount": "30.00", "reason": "lab not done"}
        first = await client.post(path, json=refund, headers=headers)
        assert_problem(first, 502, "GATEWAY_ERROR")
        [asked] = provider.refunds.values()
        assert asked.refund_id == refund_id_for(tenant.id, "fin-1", "rf-1")
        again = await client.post(path, json=refund, headers=headers)
        assert again.status_code in (201, 502), again.text
        retried = await _refund_as_the_route_does(store, tenant, provider, invoice, paid, asked)
        once_more = await _refund_as_the_route_does(store, tenant, provider, invoice, paid, asked)
    finally:
        app.state.gateway = before
    assert len(provider.refunds) == 1
    assert await stream_events(client, tenant, "payment", paid["id"]) == [
        "PaymentCaptured",
        "RefundIssued",
    ]
    assert retried.view["refund"] == once_more.view["refund"]
    assert retried.view["refund"]["gateway_reference"] == f"fakepay_re_{asked.refund_id.hex}"
    assert once_more.view["refunded"] == "30.00"


async def _refund_as_the_route_does(
    store: EventStore,
    tenant: TenantFixture,
    gateway: FakeGateway,
    invoice: dict[str, Any],
    paid: dict[str, Any],
    asked: RefundRequest,
) -> CommandResult:
    ctx = RequestContext(
        Principal("fin-1", tenant.id, frozenset({Role.FINANCE_BILLING})),
        "req",
        "corr",
        dt.datetime.now(dt.UTC),
    )
    return await run_command(
        store,
        ctx,
        tenant.id,
        lambda s: service.refund(
            s,
            gateway,
            uuid.UUID(invoice["id"]),
            refund_id_for(tenant.id, "fin-1", "rf-1"),
            uuid.UUID(paid["id"]),
            asked.amount,
            "lab not done",
        ),
    )


async def test_a_provider_payment_id_is_captured_for_one_tenant_only(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    other_tenant: TenantFixture,
    store: EventStore,
) -> None:
    """The other tenant's claim on an id already captured is refused and recorded (for finance
    to reconcile), and neither tenant can read the other's claims."""
    ours = await issued(client, tenant, [CONSULT])
    theirs = await issued(client, other_tenant, [CONSULT])
    body = capture_body(tenant, ours["id"], "80.00")
    assert (await deliver(client, body)).status_code == 200
    claim = {**body, "tenant_id": str(other_tenant.id), "invoice_id": theirs["id"]}
    refused = await deliver(client, claim)
    assert error_fields(refused, "PAYMENT_CLAIMED_ELSEWHERE") == {"payment_id"}
    again = await deliver(client, claim)
    assert again.status_code == 422 and again.json() == refused.json()
    stream = str(payment_stream_id("fakepay", body["payment_id"]))
    assert await stream_events(client, other_tenant, "payment", stream) == ["PaymentRefused"]
    assert await stream_events(client, tenant, "payment", stream) == ["PaymentCaptured"]
    unpaid = await read_invoice(client, other_tenant, theirs["id"], theirs["position"])
    assert unpaid["paid"] == "0.00"
    for who, seen in ((tenant, 1), (other_tenant, 0)):
        async with store.transaction(who.id) as conn:
            rows = await conn.fetch(
                "SELECT tenant_id FROM payment_claims WHERE provider_payment_id = $1",
                body["payment_id"],
            )
        assert [r["tenant_id"] for r in rows] == [tenant.id] * seen


async def test_concurrent_claims_of_two_tenants_capture_once(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    ours = await issued(client, tenant, [CONSULT])
    theirs = await issued(client, other_tenant, [CONSULT])
    body = capture_body(tenant, ours["id"], "80.00")
    claim = {**body, "tenant_id": str(other_tenant.id), "invoice_id": theirs["id"]}
    replies = await asyncio.gather(*(deliver(client, b) for b in (body, claim) * 3))
    captured = {r.json()["id"] for r in replies if r.status_code == 200}
    refused = [r for r in replies if r.status_code == 422]
    assert len(captured) == 1 and len(refused) == 3, [r.text for r in replies]
    assert {r.json()["code"] for r in refused} == {"PAYMENT_CLAIMED_ELSEWHERE"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "1e2"}, "amount"),
        ({"amount": "+5.00"}, "amount"),
        ({"amount": "1_000.00"}, "amount"),
        ({"amount": " 1.00"}, "amount"),
        ({"amount": "\u0661\u0662.\u0665\u0660"}, "amount"),
        ({"currency": "XYZ"}, "currency"),
        ({"amount": "80.5", "currency": "JPY"}, "amount"),
    ],
)
async def test_a_captured_amount_is_money_in_its_currency(
    client: httpx.AsyncClient, tenant: TenantFixture, change: dict[str, str], field: str
) -> None:
    invoice = await issued(client, tenant, [CONSULT])
    body = {**capture_body(tenant, invoice["id"], "80.00"), **change}
    assert error_fields(await deliver(client, body)) == {field}
    stream = payment_stream_id("fakepay", body["payment_id"])
    missing = await client.get(
        f"/v1/streams/payment/{stream}/events", headers=tenant.as_role("AUDITOR")
    )
    assert_problem(missing, 404, "NOT_FOUND")  # nothing recorded


@pytest.mark.parametrize("amount", ["1e-2", "0.001", "+1.00", "0"])
async def test_a_refund_amount_is_money_in_the_payments_currency(
    client: httpx.AsyncClient, tenant: TenantFixture, gateway: FakeGateway, amount: str
) -> None:
    invoice = await issued(client, tenant, [CONSULT])
    paid = (await deliver(client, capture_body(tenant, invoice["id"], "80.00"))).json()
    refund = {"payment_id": paid["id"], "amount": amount, "reason": "x"}
    r = await command(client, tenant, f"{invoice['id']}/refunds", refund, role="CLINIC_ADMIN")
    assert error_fields(r) == {"amount"}
    assert gateway.refunds == {}
