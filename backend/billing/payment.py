"""The payment aggregate (one stream per captured payment) and the decisions that span a payment
and its invoice: capture and refund (pure).

A payment stream's id is derived from the provider and the provider's payment id, so a repeated
webhook delivery finds the stream it created the first time and records nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from backend.billing.events import PaymentApplied, PaymentCaptured, PaymentRefused, RefundIssued
from backend.billing.model import Invoice
from backend.billing.money import ZERO
from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.errors import Conflict, Invalid
from backend.kernel.events import DomainEvent


@dataclass(frozen=True)
class Payment:
    id: UUID | None = None
    provider: str = ""
    provider_payment_id: str = ""
    invoice_id: UUID | None = None
    amount: Decimal = ZERO
    currency: str = ""
    status: str = "none"
    """none, captured or refused."""
    refusal_code: str | None = None
    refusal_detail: str | None = None
    refunded: Decimal = ZERO

    @property
    def refundable(self) -> Decimal:
        return self.amount - self.refunded if self.status == "captured" else ZERO


def payment_stream_id(provider: str, provider_payment_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"{provider}:{provider_payment_id}")


def evolve(state: Payment, event: DomainEvent) -> Payment:
    match event:
        case PaymentCaptured():
            return Payment(
                event.payment_id,
                event.provider,
                event.provider_payment_id,
                event.invoice_id,
                event.amount,
                event.currency,
                "captured",
            )
        case PaymentRefused():
            return Payment(
                event.payment_id,
                event.provider,
                event.provider_payment_id,
                event.invoice_id,
                event.amount,
                event.currency,
                "refused",
                event.code,
                event.detail,
            )
        case RefundIssued():
            return dataclasses.replace(state, refunded=state.refunded + event.amount)
    return state


def view(state: Payment) -> dict[str, Any]:
    return {
        "id": state.id,
        "provider": state.provider,
        "provider_payment_id": state.provider_payment_id,
        "invoice_id": state.invoice_id,
        "amount": str(state.amount),
        "currency": state.currency,
        "status": state.status,
        "refusal_code": state.refusal_code,
        "refusal_detail": state.refusal_detail,
        "refunded": str(state.refunded),
    }


@dataclass(frozen=True)
class Capture:
    """What the gateway reported: `amount` already parsed as money."""

    provider: str
    provider_payment_id: str
    invoice_id: UUID
    amount: Decimal
    currency: str


def capture(
    payment: Payment, invoice: Invoice, capture: Capture
) -> tuple[list[DomainEvent], list[DomainEvent]]:
    """(payment events, invoice events). A capture already recorded records nothing.

    The money has been taken by the time we hear of it, so a capture is refused (recorded as
    PaymentRefused, not applied) only when it cannot belong to the invoice: unknown invoice or
    another currency. A draft invoice takes the payment too; its status follows once issued.
    """
    if payment.status != "none":
        return [], []
    payment_id = payment_stream_id(capture.provider, capture.provider_payment_id)
    refusal = _refusal(invoice, capture)
    if refusal is not None:
        code, detail = refusal
        refused = PaymentRefused(
            payment_id,
            capture.provider,
            capture.provider_payment_id,
            capture.invoice_id,
            capture.amount,
            capture.currency,
            code,
            detail,
        )
        return [refused], []
    captured = PaymentCaptured(
        payment_id,
        capture.provider,
        capture.provider_payment_id,
        capture.invoice_id,
        capture.amount,
        capture.currency,
    )
    return [captured], [PaymentApplied(capture.invoice_id, payment_id, capture.amount)]


def _refusal(invoice: Invoice, capture: Capture) -> tuple[str, str] | None:
    if invoice.id is None:
        return "UNKNOWN_INVOICE", f"no invoice {capture.invoice_id} in this tenant"
    if capture.currency != invoice.currency:
        return (
            "CURRENCY_MISMATCH",
            f"the invoice is in {invoice.currency}, the payment in {capture.currency}",
        )
    return None


def check_refund(payment: Payment, invoice_id: UUID, amount: Decimal, reason: str) -> None:
    """Refuse a refund before the gateway is asked for it."""
    if payment.id is None or payment.invoice_id != invoice_id:
        raise Invalid("payment_id", "no such payment on this invoice")
    if payment.status != "captured":
        raise Conflict("PAYMENT_NOT_CAPTURED", "only a captured payment can be refunded")
    if not reason.strip():
        raise Invalid("reason", "must not be blank")
    if amount <= 0:
        raise Invalid("amount", "must be more than 0")
    if amount > payment.refundable:
        msg = f"at most {payment.refundable} {payment.currency} of this payment is left to refund"
        raise Conflict("REFUND_EXCEEDS_PAYMENT", msg)


def refund(
    payment: Payment,
    invoice_id: UUID,
    refund_id: UUID,
    amount: Decimal,
    reason: str,
    gateway_reference: str,
) -> RefundIssued:
    """The event for a refund the gateway made; goes to the payment and the invoice stream."""
    check_refund(payment, invoice_id, amount, reason)
    assert payment.id is not None
    return RefundIssued(
        refund_id,
        payment.id,
        invoice_id,
        amount,
        payment.currency,
        reason.strip(),
        gateway_reference,
    )


PAYMENT = register_aggregate(Aggregate("payment", Payment, evolve, view))
