"""Events of the billing context. Streams: `invoice` (one per invoice) and `payment` (one per
payment the gateway captured, its id derived from the provider's payment id)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from backend.kernel.events import DomainEvent, register


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
    gateway refunded. `gateway_reference` is the provider's id of the refund."""

    refund_id: UUID
    payment_id: UUID
    invoice_id: UUID
    amount: Decimal
    currency: str
    reason: str
    gateway_reference: str
