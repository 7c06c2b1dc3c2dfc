"""The clinic's desk through the API: cash and card-terminal payments taken by staff, a
patient's credit applied to another of their invoices, an issued invoice voided by a credit
note; the invoices and the ledger they leave agree."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from billing_helpers import CONSULT, capture_body, command, deliver, read_invoice
from e2e_helpers import assert_problem, create_patient, error_fields
from fastapi import FastAPI
from support import TenantFixture

from backend.billing.gateway import FakeGateway, RefundRequest


@pytest.fixture
def gateway(app: FastAPI) -> Iterator[FakeGateway]:
    before = app.state.gateway
    fresh = FakeGateway(app.state.settings.payment_webhook_secrets)
    app.state.gateway = fresh
    yield fresh
    app.state.gateway = before


async def _issued_for(
    client: httpx.AsyncClient, tenant: TenantFixture, patient_id: str, price: str
) -> dict[str, Any]:
    line = {**CONSULT, "unit_price": price}
    r = await client.post(
        "/v1/invoices",
        json={"patient_id": patient_id, "lines": [line]},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert r.status_code == 201, r.text
    r = await command(client, tenant, f"{r.json()['id']}/issue")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _receivable(
    client: httpx.AsyncClient, tenant: TenantFixture, invoice_id: str, position: int
) -> Decimal:
    r = await client.get(
        "/v1/ledger",
        params={"invoice_id": invoice_id, "min_position": position},
        headers=tenant.as_role("FINANCE_BILLING"),
    )
    assert r.status_code == 200, r.text
    totals = {t["account"]: Decimal(t["balance"]) for t in r.json()["totals"]}
    return totals.get("accounts_receivable", Decimal(0))


async def test_desk_payments_post_as_captures_and_refund_without_the_gateway(
    client: httpx.AsyncClient, tenant: TenantFixture, gateway: FakeGateway
) -> None:
    patient = await create_patient(client, tenant)
    bill = await _issued_for(client, tenant, patient["id"], "80.00")
    r = await command(
        client, tenant, f"{bill['id']}/payments", {"method": "cash", "amount": "50.00"}
    )
    assert r.status_code == 201, r.text
    cash = r.json()
    assert (cash["provider"], cash["status"], cash["amount"]) == ("cash", "captured", "50.00")
    r = await command(
        client, tenant, f"{bill['id']}/payments", {"method": "card_terminal", "amount": "40.00"}
    )
    assert r.status_code == 201, r.text
    position = r.json()["position"]
    invoice = await read_invoice(client, tenant, bill["id"], position)
    assert (invoice["status"], invoice["balance"], invoice["credit"]) == ("paid", "-10.00", "10.00")
    assert await _receivable(client, tenant, bill["id"], position) == Decimal("-10.00")

    body = {"payment_id": cash["id"], "amount": "10.00", "reason": "change"}
    r = await command(client, tenant, f"{bill['id']}/refunds", body, "FINANCE_BILLING")
    assert r.status_code == 201, r.text
    assert r.json()["refund"]["gateway_reference"].startswith("desk_")
    assert gateway.refunds == {}  # handed back at the desk, not asked of a provider
    assert (r.json()["balance"], r.json()["returned_credit"]) == ("0.00", "10.00")
    r = await client.get(
        "/v1/payments",
        params={"provider": "cash", "min_position": r.json()["position"]},
        headers=tenant.as_role("FINANCE_BILLING"),
    )
    assert [p["refunded"] for p in r.json()["items"]] == ["10.00"]


async def test_desk_payment_refusals(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    patient = await create_patient(client, tenant)
    bill = await _issued_for(client, tenant, patient["id"], "80.00")
    path = f"{bill['id']}/payments"
    r = await command(client, tenant, path, {"method": "cheque", "amount": "1.00"})
    assert error_fields(r) == {"method"}
    r = await command(client, tenant, path, {"method": "cash", "amount": "1.005"})
    assert error_fields(r) == {"amount"}  # USD has two places
    r = await command(client, tenant, path, {"method": "cash", "amount": "1.00"}, "DOCTOR")
    assert r.status_code == 403
    r = await command(
        client,
        tenant,
        "00000000-0000-4000-8000-000000000000/payments",
        {"method": "cash", "amount": "1"},
    )
    assert_problem(r, 404, "NOT_FOUND")


async def test_credit_applied_to_another_invoice_of_the_patient(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    over = await _issued_for(client, tenant, patient["id"], "80.00")
    owing = await _issued_for(client, tenant, patient["id"], "50.00")
    r = await deliver(client, capture_body(tenant, over["id"], "100.00"))
    assert r.status_code == 200, r.text
    payment_id = r.json()["id"]

    body = {"to_invoice_id": owing["id"], "amount": "20.01"}
    r = await command(client, tenant, f"{over['id']}/credit-transfers", body)
    assert_problem(r, 409, "CREDIT_EXCEEDED")
    body["amount"] = "20.00"
    r = await command(client, tenant, f"{over['id']}/credit-transfers", body)
    assert r.status_code == 200, r.text
    assert (r.json()["balance"], r.json()["credit_out"], r.json()["received"]) == (
        "0.00",
        "20.00",
        "80.00",
    )
    position = r.json()["position"]
    target = await read_invoice(client, tenant, owing["id"], position)
    assert (target["status"], target["balance"], target["credit_in"]) == (
        "partially_paid",
        "30.00",
        "20.00",
    )
    for invoice_id, balance in ((over["id"], "0.00"), (owing["id"], "30.00")):
        assert await _receivable(client, tenant, invoice_id, position) == Decimal(balance)

    # The credit has gone: the payment may cancel the 80.00 charge, no more.
    refund = {"payment_id": payment_id, "amount": "80.01", "reason": "x"}
    r = await command(client, tenant, f"{over['id']}/refunds", refund, "FINANCE_BILLING")
    assert_problem(r, 409, "REFUND_EXCEEDS_PAYMENT")

    stranger = await create_patient(client, tenant)
    theirs = await _issued_for(client, tenant, stranger["id"], "50.00")
    body = {"to_invoice_id": theirs["id"], "amount": "1.00"}
    r = await command(client, tenant, f"{owing['id']}/credit-transfers", body)
    assert error_fields(r) == {"to_invoice_id"}


class _HeldGateway(FakeGateway):
    """A provider that has refunded (the request kept) and answers only when released."""

    def __init__(self, secrets: dict[str, str]) -> None:
        super().__init__(secrets)
        self.entered, self.release = asyncio.Event(), asyncio.Event()

    async def refund(self, request: RefundRequest) -> str:
        reference = await super().refund(request)
        self.entered.set()
        await self.release.wait()
        return reference


async def test_credit_moved_while_the_provider_refunds_cannot_leave_a_refund_unrecorded(
    client: httpx.AsyncClient, tenant: TenantFixture, app: FastAPI
) -> None:
    """A refund decides on what the invoice holds, then the provider refunds (no undo). A
    credit transfer out of the same invoice meanwhile must wait for it: else the refund's
    record, retried on the moved invoice, is refused for money the provider has paid out."""
    patient = await create_patient(client, tenant)
    over = await _issued_for(client, tenant, patient["id"], "10.00")
    owing = await _issued_for(client, tenant, patient["id"], "200.00")
    r = await deliver(client, capture_body(tenant, over["id"], "100.00"))
    assert r.status_code == 200, r.text
    payment_id = r.json()["id"]
    held = _HeldGateway(app.state.settings.payment_webhook_secrets)
    before = app.state.gateway
    app.state.gateway = held
    try:
        refund = {"payment_id": payment_id, "amount": "60.00", "reason": "overpaid"}
        refunding = asyncio.create_task(
            command(client, tenant, f"{over['id']}/refunds", refund, "FINANCE_BILLING")
        )
        await asyncio.wait_for(held.entered.wait(), 10)
        body = {"to_invoice_id": owing["id"], "amount": "90.00"}
        moving = asyncio.create_task(
            command(client, tenant, f"{over['id']}/credit-transfers", body)
        )
        await asyncio.sleep(0.5)  # the transfer's turn, had it not to wait for the refund's
        held.release.set()
        refunded, moved = await asyncio.gather(refunding, moving)
    finally:
        app.state.gateway = before
    assert refunded.status_code == 201, refunded.text
    assert len(held.refunds) == 1
    assert_problem(moved, 409, "CREDIT_EXCEEDED")  # 30.00 of credit left after the refund
    position = refunded.json()["position"]
    invoice = await read_invoice(client, tenant, over["id"], position)
    assert (invoice["balance"], invoice["received"]) == ("-30.00", "40.00")
    assert await _receivable(client, tenant, over["id"], position) == Decimal("-30.00")


async def test_void_by_a_credit_note(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    patient = await create_patient(client, tenant)
    bill = await _issued_for(client, tenant, patient["id"], "80.00")
    r = await command(client, tenant, f"{bill['id']}/payments", {"method": "cash", "amount": "30"})
    assert r.status_code == 201, r.text
    r = await command(client, tenant, f"{bill['id']}/void", {"reason": "x"}, "RECEPTIONIST")
    assert r.status_code == 403
    r = await command(
        client, tenant, f"{bill['id']}/void", {"reason": "entered twice"}, "FINANCE_BILLING"
    )
    assert r.status_code == 200, r.text
    voided = r.json()
    assert (voided["status"], voided["balance"], voided["credit"]) == ("void", "-30.00", "30.00")
    assert voided["credit_note"]["amount"] == "80.00"
    assert await _receivable(client, tenant, bill["id"], voided["position"]) == Decimal("-30.00")
    r = await command(client, tenant, f"{bill['id']}/void", {"reason": "x"}, "FINANCE_BILLING")
    assert_problem(r, 409, "INVOICE_VOID")
    r = await command(client, tenant, f"{bill['id']}/payments", {"method": "cash", "amount": "1"})
    assert_problem(r, 409, "INVOICE_VOID")
    r = await deliver(client, capture_body(tenant, bill["id"], "5.00"))
    assert_problem(r, 422, "INVOICE_VOID")
    r = await client.get(
        "/v1/invoices",
        params={"patient_id": patient["id"], "status": "void", "min_position": voided["position"]},
        headers=tenant.as_role("FINANCE_BILLING"),
    )
    assert [i["id"] for i in r.json()["items"]] == [bill["id"]]
