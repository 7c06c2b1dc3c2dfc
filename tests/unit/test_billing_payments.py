"""Payments: capture (idempotent, refusals), refunds within what was captured, the webhook
signature, the ledger's balanced journals, and invoices drafted for a visit."""

from __future__ import annotations

import dataclasses
import datetime as dt
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
from backend.billing.model import INVOICE, Invoice
from backend.billing.payment import PAYMENT, Capture, Payment, payment_stream_id
from backend.kernel.charges import NewLine
from backend.kernel.errors import Conflict, Invalid
from backend.kernel.events import from_data, upcast

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


def holding(amount: str = "50.00") -> Invoice:
    """The EUR invoice with a payment of `amount` applied."""
    return INVOICE.evolve(EUR_INVOICE, PaymentApplied(INV, PAY_ID, D(amount)))


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
    payment.check_refund(state, holding(), D("50.00"), "x")
    first = payment.refund(state, holding(), uuid.uuid4(), D("20.00"), " broken ", "ref-1")
    assert (first.amount, first.reason, first.currency, first.payment_id) == (
        D("20.00"),
        "broken",
        "EUR",
        PAY_ID,
    )
    state = payment.evolve(state, first)
    assert state.refundable == D("30.00")
    with pytest.raises(Conflict) as e:
        payment.check_refund(state, holding(), D("30.01"), "x")
    assert e.value.code == "REFUND_EXCEEDS_PAYMENT"
    payment.check_refund(state, holding(), D("30.00"), "x")


def test_refund_refusals() -> None:
    state = captured()
    with pytest.raises(Invalid) as e:
        payment.check_refund(Payment(), holding(), D("1"), "x")
    assert e.value.field == "payment_id"
    with pytest.raises(Invalid) as e:
        other = INVOICE.fold([InvoiceDrafted(uuid.uuid4(), PAT, None, "EUR")])
        payment.check_refund(state, other, D("1"), "x")  # another invoice's payment
    assert e.value.field == "payment_id"
    with pytest.raises(Invalid) as e:
        payment.check_refund(state, holding(), D("1"), "  ")
    assert e.value.field == "reason"
    with pytest.raises(Invalid) as e:
        payment.check_refund(state, holding(), D("0"), "x")
    assert e.value.field == "amount"
    refused = PAYMENT.fold(payment.capture(Payment(), EUR_INVOICE, capture(currency="USD"))[0])
    with pytest.raises(Conflict) as c:
        payment.check_refund(refused, holding(), D("1"), "x")
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
    refund = RefundIssued(uuid.uuid4(), PAY_ID, INV, D("20"), "EUR", "x", "r", D("0"))
    refunded = ledger.journal(refund, "payment")
    assert refunded is not None and refunded.balanced
    assert [(p.account, p.debit, p.credit) for p in refunded.postings] == [
        ("refunds", D("20"), D("0")),
        ("cash", D("0"), D("20")),
    ]
    # The part that gave back the invoice's credit clears the receivable's credit balance.
    returned = ledger.journal(dataclasses.replace(refund, returned_credit=D("5")), "payment")
    assert returned is not None and returned.balanced
    assert [(p.account, p.debit, p.credit) for p in returned.postings] == [
        ("accounts_receivable", D("5"), D("0")),
        ("refunds", D("15"), D("0")),
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


def test_a_refund_stored_before_returned_credit_existed_cancelled_charges() -> None:
    """RefundIssued v1 was journalled as debit refunds, credit cash: read it so."""
    stored = {
        "refund_id": str(PAY_ID),
        "payment_id": str(PAY_ID),
        "invoice_id": str(INV),
        "amount": "9.99",
        "currency": "EUR",
        "reason": "x",
        "gateway_reference": "r",
    }
    revived = from_data("RefundIssued", upcast("RefundIssued", 1, stored))
    assert revived == RefundIssued(PAY_ID, PAY_ID, INV, D("9.99"), "EUR", "x", "r", D("0"))


def test_a_refund_id_derives_from_the_callers_idempotency_key() -> None:
    tenant = uuid.uuid4()
    key = payment.refund_id_for(tenant, "fin-1", "rf-1")
    assert key == payment.refund_id_for(tenant, "fin-1", "rf-1")
    assert key != payment.refund_id_for(tenant, "fin-2", "rf-1")  # keys are the caller's
    assert key != payment.refund_id_for(uuid.uuid4(), "fin-1", "rf-1")
    assert key != payment.refund_id_for(tenant, "fin-1", "rf-2")


def test_a_recorded_refund_is_found_by_its_id_and_must_be_asked_the_same() -> None:
    state = captured("50.00")
    refund_id = uuid.uuid4()
    state = payment.evolve(
        state, payment.refund(state, holding(), refund_id, D("20.00"), "x", "ref-1")
    )
    done = state.refund_recorded(refund_id)
    assert done == payment.Refund(refund_id, D("20.00"), "ref-1")
    assert state.refund_recorded(uuid.uuid4()) is None
    payment.check_same_refund(state, INV, done, D("20.00"))
    with pytest.raises(Invalid) as e:
        payment.check_same_refund(state, INV, done, D("20.01"))
    assert e.value.field == "Idempotency-Key"
    with pytest.raises(Invalid) as e:
        payment.check_same_refund(state, uuid.uuid4(), done, D("20.00"))
    assert e.value.field == "payment_id"


async def test_the_fake_provider_refuses_a_key_reused_with_other_parameters() -> None:
    gateway = FakeGateway({"fakepay": "s"})
    request = RefundRequest(uuid.uuid4(), "fakepay", "pay_1", D("5.00"), "EUR")
    await gateway.refund(request)
    with pytest.raises(GatewayError):
        await gateway.refund(dataclasses.replace(request, amount=D("6.00")))
    assert list(gateway.refunds.values()) == [request]


def test_an_id_another_tenant_captured_is_refused_and_recorded() -> None:
    """Checked first: the invoice and currency would do, the money is another tenant's."""
    [refused], invoice_events = payment.capture(
        Payment(), EUR_INVOICE, capture(), claimed_elsewhere=True
    )
    assert isinstance(refused, PaymentRefused)
    assert (refused.code, refused.provider_payment_id) == ("PAYMENT_CLAIMED_ELSEWHERE", "pay_1")
    assert invoice_events == []


def test_a_captures_valid_time_is_bounded() -> None:
    now = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)
    drafted = now - dt.timedelta(hours=5)
    day = dt.timedelta(hours=24)
    old = dt.datetime(1999, 1, 1, tzinfo=dt.UTC)
    assert payment.valid_time(old, now, day, drafted) == drafted  # not before the invoice
    assert payment.valid_time(old, now, day, None) == now - day  # not older than policy
    assert payment.valid_time(now - dt.timedelta(hours=1), now, day, drafted) == now - dt.timedelta(
        hours=1
    )
    assert payment.valid_time(now + day, now, day, drafted) == now  # never in the future
    long_ago = now - dt.timedelta(days=30)
    assert payment.valid_time(long_ago, now, day, long_ago) == now - day
