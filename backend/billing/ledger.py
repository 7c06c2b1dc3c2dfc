"""The double-entry rules: which accounts each billing event debits and credits (pure).

Every journal (the postings of one event) balances: its debits sum to its credits.
- InvoiceIssued: debit accounts_receivable (total) and discounts (contra-revenue, the
  discount), credit revenue (the subtotal).
- PaymentCaptured: debit cash, credit accounts_receivable. An overpayment leaves the invoice's
  receivable with a credit balance: money owed back to the patient.
- RefundIssued (journalled from the payment stream only; the same event on the invoice stream
  is the invoice's copy): credit cash (the amount); debit accounts_receivable with the credit it
  gave back (clearing the receivable's credit balance) and refunds (contra-revenue) with the rest,
  the charge it cancelled.
- CreditTransferredOut (on the invoice giving its credit): debit accounts_receivable (clearing
  its credit balance), credit credit_transfers. CreditTransferredIn (on the invoice it pays, in
  the same transaction): debit credit_transfers, credit accounts_receivable. credit_transfers is
  a clearing account: over a tenant it is always 0.
- InvoiceVoided: debit credit_notes (contra-revenue), credit accounts_receivable, the amount the
  credit note cancelled.
Desk payments are PaymentCaptured too (desk.py).
So an invoice's receivable is always its balance (model.Invoice.balance).
A PaymentRefused moves no money in our books (see docs/API.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from backend.billing.events import (
    CreditTransferredIn,
    CreditTransferredOut,
    InvoiceIssued,
    InvoiceVoided,
    PaymentCaptured,
    RefundIssued,
)
from backend.kernel.events import DomainEvent
from backend.kernel.money import ZERO

RECEIVABLE = "accounts_receivable"
REVENUE = "revenue"
DISCOUNTS = "discounts"
CASH = "cash"
REFUNDS = "refunds"
CREDIT_TRANSFERS = "credit_transfers"
CREDIT_NOTES = "credit_notes"


@dataclass(frozen=True)
class Posting:
    account: str
    debit: Decimal
    credit: Decimal


@dataclass(frozen=True)
class Journal:
    invoice_id: UUID
    currency: str
    postings: tuple[Posting, ...]

    @property
    def balanced(self) -> bool:
        return sum(p.debit for p in self.postings) == sum(p.credit for p in self.postings)


def journal(event: DomainEvent, stream_type: str) -> Journal | None:
    """The journal an event records in the ledger, if any."""
    postings: tuple[Posting, ...]
    match event:
        case InvoiceIssued():
            postings = (
                Posting(RECEIVABLE, event.total, ZERO),
                Posting(DISCOUNTS, event.discount, ZERO),
                Posting(REVENUE, ZERO, event.subtotal),
            )
            return _journal(event.invoice_id, event.currency, postings)
        case PaymentCaptured():
            postings = (Posting(CASH, event.amount, ZERO), Posting(RECEIVABLE, ZERO, event.amount))
            return _journal(event.invoice_id, event.currency, postings)
        case RefundIssued() if stream_type == "payment":
            postings = (
                Posting(RECEIVABLE, event.returned_credit, ZERO),
                Posting(REFUNDS, event.amount - event.returned_credit, ZERO),
                Posting(CASH, ZERO, event.amount),
            )
            return _journal(event.invoice_id, event.currency, postings)
        case CreditTransferredOut():
            postings = (
                Posting(RECEIVABLE, event.amount, ZERO),
                Posting(CREDIT_TRANSFERS, ZERO, event.amount),
            )
            return _journal(event.invoice_id, event.currency, postings)
        case CreditTransferredIn():
            postings = (
                Posting(CREDIT_TRANSFERS, event.amount, ZERO),
                Posting(RECEIVABLE, ZERO, event.amount),
            )
            return _journal(event.invoice_id, event.currency, postings)
        case InvoiceVoided():
            postings = (
                Posting(CREDIT_NOTES, event.amount, ZERO),
                Posting(RECEIVABLE, ZERO, event.amount),
            )
            return _journal(event.invoice_id, event.currency, postings)
    return None


def _journal(invoice_id: UUID, currency: str, postings: tuple[Posting, ...]) -> Journal:
    """Postings of zero (no discount, a free invoice) are left out."""
    return Journal(invoice_id, currency, tuple(p for p in postings if p.debit or p.credit))
