"""Desk payments, credit applied to another of the patient's invoices, and voids by a credit
note: their decisions, refusals and postings (pure)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from backend.billing import credit, desk, ledger, payment
from backend.billing.events import (
    InvoiceDrafted,
    InvoiceIssued,
    InvoiceVoided,
    PaymentApplied,
    PaymentCaptured,
)
from backend.billing.model import INVOICE, Invoice
from backend.billing.payment import PAYMENT, Capture, Payment, payment_stream_id
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent

PAT = uuid.UUID("20000000-0000-4000-8000-000000000002")
D = Decimal


def invoice(
    total: str, paid: str = "0", *, patient: uuid.UUID = PAT, currency: str = "EUR"
) -> Invoice:
    invoice_id = uuid.uuid4()
    events: list[DomainEvent] = [
        InvoiceDrafted(invoice_id, patient, None, currency),
        InvoiceIssued(invoice_id, currency, D(total), D("0"), D(total)),
    ]
    if D(paid):
        events.append(PaymentApplied(invoice_id, uuid.uuid4(), D(paid)))
    return INVOICE.fold(events)


def test_a_desk_payment_is_a_capture_with_the_method_as_provider() -> None:
    bill = invoice("80.00")
    desk_id = uuid.uuid4()
    [captured], [applied] = desk.take(bill, "cash", desk_id, D("30.5"))
    pay_id = payment_stream_id("cash", str(desk_id))
    assert captured == PaymentCaptured(pay_id, "cash", str(desk_id), bill.id, D("30.50"), "EUR")
    assert applied == PaymentApplied(bill.id, pay_id, D("30.50"))  # type: ignore[arg-type]
    # The same postings as a gateway's capture of the same money.
    gateway = Capture("fakepay", "p", bill.id, D("30.50"), "EUR")  # type: ignore[arg-type]
    [by_gateway], _ = payment.capture(Payment(), bill, gateway)
    postings = ledger.journal(captured, "payment")
    assert postings is not None and postings == ledger.journal(by_gateway, "payment")
    assert desk.is_desk("card_terminal") and not desk.is_desk("fakepay")


def test_desk_payment_refusals() -> None:
    with pytest.raises(NotFound):
        desk.take(INVOICE.initial(), "cash", uuid.uuid4(), D("1"))
    with pytest.raises(Invalid) as e:
        desk.take(invoice("80.00"), "cheque", uuid.uuid4(), D("1"))
    assert e.value.field == "method"
    with pytest.raises(Invalid) as e:
        desk.take(invoice("80", currency="JPY"), "cash", uuid.uuid4(), D("0.50"))  # no sen
    assert e.value.field == "amount"
    void = INVOICE.evolve(invoice("80.00"), credit.void(invoice("80.00"), "x")[0])
    with pytest.raises(Conflict) as c:
        desk.take(void, "cash", uuid.uuid4(), D("1"))
    assert c.value.code == "INVOICE_VOID"


def test_credit_moves_to_another_invoice_of_the_patient() -> None:
    over, owing = invoice("80.00", paid="100.00"), invoice("50.00")
    out, into = credit.transfer(over, owing, uuid.uuid4(), D("15"))
    assert (out.amount, into.amount, out.to_invoice_id, into.from_invoice_id) == (
        D("15.00"),
        D("15.00"),
        owing.id,
        over.id,
    )
    over, owing = INVOICE.evolve(over, out), INVOICE.evolve(owing, into)
    assert (over.balance, over.credit, over.received) == (D("-5.00"), D("5.00"), D("85.00"))
    assert (owing.balance, owing.status) == (D("35.00"), "partially_paid")
    # Each invoice's journal balances and moves its receivable by the amount; the clearing
    # account nets to 0 across the two.
    journals = [ledger.journal(out, "invoice"), ledger.journal(into, "invoice")]
    assert all(j is not None and j.balanced for j in journals)
    clearing = sum(
        (
            p.debit - p.credit
            for j in journals
            if j
            for p in j.postings
            if p.account == "credit_transfers"
        ),
        D(0),
    )
    assert clearing == 0


@pytest.mark.parametrize(
    ("source", "target", "amount", "fault"),
    [
        (invoice("80.00", "100.00"), invoice("50.00"), "20.01", "CREDIT_EXCEEDED"),
        (invoice("80.00", "100.00"), invoice("10.00"), "10.01", "CREDIT_EXCEEDS_BALANCE"),
        (invoice("80.00", "100.00"), invoice("50.00", patient=uuid.uuid4()), "1", "to_invoice_id"),
        (invoice("80.00", "100.00"), invoice("50", currency="JPY"), "1", "CURRENCY_MISMATCH"),
        (invoice("80.00", "100.00"), INVOICE.initial(), "1", "to_invoice_id"),
        (invoice("80.00", "100.00"), invoice("50.00"), "0.001", "amount"),
    ],
)
def test_credit_transfer_refusals(
    source: Invoice, target: Invoice, amount: str, fault: str
) -> None:
    with pytest.raises((Conflict, Invalid)) as e:
        credit.transfer(source, target, uuid.uuid4(), D(amount))
    assert fault in (e.value.code, getattr(e.value, "field", None))


def test_no_credit_moves_to_itself_a_draft_or_a_void() -> None:
    over = invoice("80.00", "100.00")
    with pytest.raises(Invalid):
        credit.transfer(over, over, uuid.uuid4(), D("1"))
    draft = INVOICE.fold([InvoiceDrafted(uuid.uuid4(), PAT, None, "EUR")])
    with pytest.raises(Conflict) as e:
        credit.transfer(over, draft, uuid.uuid4(), D("1"))
    assert e.value.code == "INVOICE_NOT_ISSUED"
    owing = invoice("50.00")
    void = INVOICE.evolve(owing, credit.void(owing, "x")[0])
    with pytest.raises(Conflict) as e:
        credit.transfer(over, void, uuid.uuid4(), D("1"))
    assert e.value.code == "INVOICE_VOID"


def test_a_void_cancels_what_is_owed_and_leaves_what_was_paid_as_credit() -> None:
    bill = invoice("80.00", paid="30.00")
    [voided] = credit.void(bill, " entered twice ")
    assert voided == InvoiceVoided(
        bill.id,
        credit.credit_note_id_for(bill.id),
        D("80.00"),
        "EUR",
        "entered twice",  # type: ignore[arg-type]
    )
    bill = INVOICE.evolve(bill, voided)
    assert (bill.status, bill.owed, bill.balance, bill.credit) == (
        "void",
        0,
        D("-30.00"),
        D("30.00"),
    )
    journal = ledger.journal(voided, "invoice")
    assert journal is not None and journal.balanced
    assert {p.account for p in journal.postings} == {"credit_notes", "accounts_receivable"}
    with pytest.raises(Conflict) as e:
        credit.void(bill, "again")
    assert e.value.code == "INVOICE_VOID"
    draft = INVOICE.fold([InvoiceDrafted(uuid.uuid4(), PAT, None, "EUR")])
    with pytest.raises(Conflict) as e:
        credit.void(draft, "x")
    assert e.value.code == "INVOICE_NOT_ISSUED"


def test_a_capture_for_a_void_invoice_is_recorded_as_refused() -> None:
    bill = invoice("80.00")
    bill = INVOICE.evolve(bill, credit.void(bill, "x")[0])
    capture = Capture("fakepay", "p", bill.id, D("80.00"), "EUR")  # type: ignore[arg-type]
    [refused], applied = payment.capture(Payment(), bill, capture)
    assert (refused.code, applied) == ("INVOICE_VOID", [])  # type: ignore[attr-defined]


def test_a_refund_takes_no_more_than_the_invoice_holds() -> None:
    """100.00 paid on 80.00, its 20.00 of credit applied to another invoice: 80.00 of the payment
    may still be refunded (cancelling the charge), not the whole 100.00."""
    over, owing = invoice("80.00"), invoice("50.00")
    capture = Capture("fakepay", "p", over.id, D("100.00"), "EUR")  # type: ignore[arg-type]
    payment_events, invoice_events = payment.capture(Payment(), over, capture)
    paid, over = PAYMENT.fold(payment_events), INVOICE.evolve(over, invoice_events[0])
    out, _ = credit.transfer(over, owing, uuid.uuid4(), D("20.00"))
    over = INVOICE.evolve(over, out)
    with pytest.raises(Conflict) as e:
        payment.check_refund(paid, over, D("80.01"), "x")
    assert e.value.code == "REFUND_EXCEEDS_PAYMENT"
    refund = payment.refund(paid, over, uuid.uuid4(), D("80.00"), "x", "gw")
    over = INVOICE.evolve(over, refund)
    assert (over.owed, over.balance, over.received) == (D("0.00"), D("0.00"), D("0.00"))
