"""Payments: capture (idempotent, refusals), refunds within what was captured, the webhook
signature, the ledger's balanced journals, and invoices drafted for a visit."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from backend.billing import ledger, payment, visit
from backend.billing.events import (
    InvoiceDrafted,
    InvoiceIssued,
    PaymentApplied,
    PaymentCaptured,
    PaymentRefused,
    RefundIssued,
)
from backend.billing.gateway import FakeGateway, GatewayError, RefundRequest, sign
from backend.billing.model import INVOICE, NewLine
from backend.billing.payment import PAYMENT, Capture, Payment, payment_stream_id
from backend.kernel.errors import Conflict, Invalid

INV = uuid.UUID("10000000-0000-4000-8000-000000000001")
PAT = uuid.UUID("20000000-0000-4000-8000-000000000002")
EUR_INVOICE = INVOICE.fold([InvoiceDrafted(INV, PAT, None, "EUR")])
PAY_ID = payment_stream_id("fakepay", "pay_1")


def D(text: str) -> Decimal:
    return Decimal(text)


def capture(amount: str = "50.00", currency: str = "EUR", invoice: uuid.UUID = INV) -> Capture:
    return Capture("fakepay", "pay_1", invoice, D(amount), currency)


def captured(amount: str = "50.00") -> Payment:
    events, _ = payment.capture(Payment(), EUR_INVOICE, capture(amount))
    return PAYMENT.fold(events)


def test_payment_ids_derive_from_the_provider_and_its_payment_id() -> None:
    assert payment_stream_id("fakepay", "pay_1") == PAY_ID
    assert payment_stream_id("fakepay", "pay_2") != PAY_ID
    assert payment_stream_id("other", "pay_1") != PAY_ID


def test_a_capture_records_the_payment_and_applies_it_to_the_invoice() -> None:
    payment_events, invoice_events = payment.capture(Payment(), EUR_INVOICE, capture())
    assert payment_events == [PaymentCaptured(PAY_ID, "fakepay", "pay_1", INV, D("50.00"), "EUR")]
    assert invoice_events == [PaymentApplied(INV, PAY_ID, D("50.00"))]


def test_a_capture_already_recorded_records_nothing() -> None:
    assert payment.capture(captured(), EUR_INVOICE, capture()) == ([], [])
    refused = PAYMENT.fold(payment.capture(Payment(), EUR_INVOICE, capture(currency="USD"))[0])
    assert payment.capture(refused, EUR_INVOICE, capture()) == ([], [])


def test_another_currency_is_refused_and_recorded() -> None:
    payment_events, invoice_events = payment.capture(
        Payment(), EUR_INVOICE, capture(currency="USD")
    )
    [refused] = payment_events
    assert isinstance(refused, PaymentRefused)
    assert (refused.code, refused.amount, refused.currency) == ("CURRENCY_MISMATCH", D("50"), "USD")
    assert invoice_events == []
    state = PAYMENT.fold(payment_events)
    assert (state.status, state.refundable) == ("refused", D("0"))


def test_an_unknown_invoice_is_refused_and_recorded() -> None:
    [refused], invoice_events = payment.capture(Payment(), INVOICE.initial(), capture())
    assert isinstance(refused, PaymentRefused) and refused.code == "UNKNOWN_INVOICE"
    assert invoice_events == []


def test_refunds_stay_within_what_was_captured() -> None:
    state = captured("50.00")
    payment.check_refund(state, INV, D("50.00"), "x")
    first = payment.refund(state, INV, uuid.uuid4(), D("20.00"), " broken ", "ref-1")
    assert (first.amount, first.reason, first.currency, first.payment_id) == (
        D("20.00"),
        "broken",
        "EUR",
        PAY_ID,
    )
    state = payment.evolve(state, first)
    assert state.refundable == D("30.00")
    with pytest.raises(Conflict) as e:
        payment.check_refund(state, INV, D("30.01"), "x")
    assert e.value.code == "REFUND_EXCEEDS_PAYMENT"
    payment.check_refund(state, INV, D("30.00"), "x")


def test_refund_refusals() -> None:
    state = captured()
    with pytest.raises(Invalid) as e:
        payment.check_refund(Payment(), INV, D("1"), "x")
    assert e.value.field == "payment_id"
    with pytest.raises(Invalid) as e:
        payment.check_refund(state, uuid.uuid4(), D("1"), "x")  # another invoice's payment
    assert e.value.field == "payment_id"
    with pytest.raises(Invalid) as e:
        payment.check_refund(state, INV, D("1"), "  ")
    assert e.value.field == "reason"
    with pytest.raises(Invalid) as e:
        payment.check_refund(state, INV, D("0"), "x")
    assert e.value.field == "amount"
    refused = PAYMENT.fold(payment.capture(Payment(), EUR_INVOICE, capture(currency="USD"))[0])
    with pytest.raises(Conflict) as c:
        payment.check_refund(refused, INV, D("1"), "x")
    assert c.value.code == "PAYMENT_NOT_CAPTURED"


# --- the gateway --------------------------------------------------------------------------------


def test_signatures_are_hmac_sha256_of_the_raw_body() -> None:
    gateway = FakeGateway({"fakepay": "s3cret"})
    body = b'{"a": 1}'
    good = sign("s3cret", body)
    assert good.startswith("sha256=") and len(good) == 7 + 64
    assert gateway.verify_signature("fakepay", body, good)
    assert gateway.verify_signature("fakepay", body, f" {good} ")
    assert not gateway.verify_signature("fakepay", body + b" ", good)
    assert not gateway.verify_signature("fakepay", body, sign("other", body))
    assert not gateway.verify_signature("fakepay", body, good.removeprefix("sha256="))
    assert not gateway.verify_signature("fakepay", body, None)
    assert not gateway.verify_signature("fakepay", body, "")
    assert not gateway.verify_signature("unknown", body, good)
    assert gateway.knows("fakepay") and not gateway.knows("unknown")


async def test_fake_refunds_are_idempotent_per_refund_id() -> None:
    gateway = FakeGateway({"fakepay": "s"})
    request = RefundRequest(uuid.uuid4(), "fakepay", "pay_1", D("5.00"), "EUR")
    first = await gateway.refund(request)
    assert await gateway.refund(request) == first
    assert list(gateway.refunds.values()) == [request]
    gateway.failing = True
    with pytest.raises(GatewayError) as e:
        await gateway.refund(RefundRequest(uuid.uuid4(), "fakepay", "pay_1", D("1"), "EUR"))
    assert (e.value.code, e.value.status) == ("GATEWAY_ERROR", 502)


# --- the ledger ---------------------------------------------------------------------------------


def _sums(journal: ledger.Journal) -> tuple[Decimal, Decimal]:
    return sum(p.debit for p in journal.postings), sum(p.credit for p in journal.postings)


def test_an_issued_invoice_debits_receivable_and_discounts_and_credits_revenue() -> None:
    journal = ledger.journal(
        InvoiceIssued(INV, "EUR", D("100.01"), D("12.50"), D("87.51")), "invoice"
    )
    assert journal is not None and journal.balanced
    assert {(p.account, p.debit, p.credit) for p in journal.postings} == {
        ("accounts_receivable", D("87.51"), D("0")),
        ("discounts", D("12.50"), D("0")),
        ("revenue", D("0"), D("100.01")),
    }
    assert _sums(journal) == (D("100.01"), D("100.01"))


def test_zero_postings_are_left_out() -> None:
    journal = ledger.journal(InvoiceIssued(INV, "EUR", D("80"), D("0"), D("80")), "invoice")
    assert journal is not None and [p.account for p in journal.postings] == [
        "accounts_receivable",
        "revenue",
    ]


def test_payments_and_refunds_move_cash() -> None:
    paid = ledger.journal(PaymentCaptured(PAY_ID, "f", "p", INV, D("50"), "EUR"), "payment")
    assert paid is not None and paid.balanced
    assert [(p.account, p.debit, p.credit) for p in paid.postings] == [
        ("cash", D("50"), D("0")),
        ("accounts_receivable", D("0"), D("50")),
    ]
    refund = RefundIssued(uuid.uuid4(), PAY_ID, INV, D("20"), "EUR", "x", "r")
    refunded = ledger.journal(refund, "payment")
    assert refunded is not None and refunded.balanced
    assert [(p.account, p.debit, p.credit) for p in refunded.postings] == [
        ("refunds", D("20"), D("0")),
        ("cash", D("0"), D("20")),
    ]
    # The invoice stream's copy of the refund is not journalled twice.
    assert ledger.journal(refund, "invoice") is None
    assert ledger.journal(PaymentApplied(INV, PAY_ID, D("50")), "invoice") is None
    refused = PaymentRefused(PAY_ID, "f", "p", INV, D("5"), "USD", "CURRENCY_MISMATCH", "x")
    assert ledger.journal(refused, "payment") is None


# --- invoices for a visit -----------------------------------------------------------------------


def test_a_visit_gets_one_invoice_id() -> None:
    v = uuid.uuid4()
    assert visit.visit_invoice_id(v) == visit.visit_invoice_id(v)
    assert visit.visit_invoice_id(v) != visit.visit_invoice_id(uuid.uuid4())
    assert visit.line_id(INV, 0) == visit.line_id(INV, 0) != visit.line_id(INV, 1)


def test_services_become_lines() -> None:
    services = [
        {"code": "CONSULT", "description": "Consultation", "quantity": 1, "unit_price": "80"},
        {"code": "LAB", "description": "Panel", "quantity": 2, "unit_price": "6.5"},
    ]
    assert visit.lines_from_services(services) == [
        NewLine("CONSULT", "Consultation", 1, D("80.00")),
        NewLine("LAB", "Panel", 2, D("6.50")),
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": 1}, "services[1].code"),
        ({"description": None}, "services[1].description"),
        ({"quantity": "2"}, "services[1].quantity"),
        ({"quantity": True}, "services[1].quantity"),
        ({"unit_price": 6.5}, "services[1].unit_price"),
        ({"unit_price": "6.505"}, "services[1].unit_price"),
        ({"quantity": 0}, "services[1].quantity"),
        ({"code": " "}, "services[1].code"),
    ],
)
def test_bad_services_name_the_field(change: dict[str, object], field: str) -> None:
    good = {"code": "X", "description": "x", "quantity": 1, "unit_price": "1.00"}
    with pytest.raises(Invalid) as e:
        visit.lines_from_services([good, {**good, **change}])
    assert e.value.field == field
