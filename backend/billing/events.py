"""Events of the billing context. Streams: `invoice` (one per invoice) and `payment` (one per
payment the gateway captured, its id derived from the provider's payment id, or one taken at the
desk)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from backend.kernel.events import DomainEvent, register, upcaster


@register
@dataclass(frozen=True)
class InvoiceDrafted(DomainEvent):
    invoice_id: UUID
    patient_id: UUID
    visit_id: UUID | None
    currency: str


@register
@dataclass(frozen=True)
class InvoiceLineAdded(DomainEvent):
    invoice_id: UUID
    line_id: UUID
    code: str
    description: str
    quantity: int
    unit_price: Decimal


@register
@dataclass(frozen=True)
class InvoiceLineRemoved(DomainEvent):
    invoice_id: UUID
    line_id: UUID


@register
@dataclass(frozen=True)
class DiscountApplied(DomainEvent):
    """Replaces any earlier discount of the draft; 0 percent removes it."""

    invoice_id: UUID
    percent: Decimal
    reason: str


@register
@dataclass(frozen=True)
class InvoiceIssued(DomainEvent):
    """The totals as computed at issue: total = subtotal - discount."""

    invoice_id: UUID
    currency: str
    subtotal: Decimal
    discount: Decimal
    total: Decimal


@register
@dataclass(frozen=True)
class PaymentCaptured(DomainEvent):
    """On the payment stream: the gateway captured money for an invoice."""

    payment_id: UUID
    provider: str
    provider_payment_id: str
    invoice_id: UUID
    amount: Decimal
    currency: str


@register
@dataclass(frozen=True)
class PaymentRefused(DomainEvent):
    """On the payment stream: a capture we could not apply (`code` says why, e.g.
    CURRENCY_MISMATCH). Kept so a repeat delivery gets the same answer and finance can
    reconcile the money by hand."""

    payment_id: UUID
    provider: str
    provider_payment_id: str
    invoice_id: UUID
    amount: Decimal
    currency: str
    code: str
    detail: str


@register
@dataclass(frozen=True)
class PaymentApplied(DomainEvent):
    """On the invoice stream, in the same transaction as PaymentCaptured."""

    invoice_id: UUID
    payment_id: UUID
    amount: Decimal


@register
@dataclass(frozen=True)
class RefundIssued(DomainEvent):
    """Appended to both the payment and the invoice stream in one transaction, after the
    gateway refunded. `gateway_reference` is the provider's id of the refund.

    `returned_credit` is the part of `amount` that gave back the invoice's credit (money paid
    beyond what it owed); the rest cancels that much of the charge. Decided on the invoice as
    it stood, so the ledger can post it from the event alone (v2 added it)."""

    schema_version: ClassVar[int] = 2

    refund_id: UUID
    payment_id: UUID
    invoice_id: UUID
    amount: Decimal
    currency: str
    reason: str
    gateway_reference: str
    returned_credit: Decimal


@upcaster("RefundIssued", 1)
def _refund_issued_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Refunds recorded before v2 were journalled as cancelling the charge (debit refunds,
    credit cash): read them so, and invoice and ledger keep agreeing on them."""
    return {**data, "returned_credit": "0"}


@register
@dataclass(frozen=True)
class CreditTransferredOut(DomainEvent):
    """On the invoice whose credit (money held beyond what it owed) pays another invoice of the
    same patient; `CreditTransferredIn` on that invoice in the same transaction."""

    invoice_id: UUID
    transfer_id: UUID
    to_invoice_id: UUID
    amount: Decimal
    currency: str


@register
@dataclass(frozen=True)
class CreditTransferredIn(DomainEvent):
    """On the invoice paid by another invoice's credit (see CreditTransferredOut)."""

    invoice_id: UUID
    transfer_id: UUID
    from_invoice_id: UUID
    amount: Decimal
    currency: str


@register
@dataclass(frozen=True)
class InvoiceVoided(DomainEvent):
    """An issued invoice cancelled by a credit note of `amount`: what it still charged (its
    total less the charges refunds had cancelled). Money paid on it stays, as credit."""

    invoice_id: UUID
    credit_note_id: UUID
    amount: Decimal
    currency: str
    reason: str
