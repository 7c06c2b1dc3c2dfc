"""The payment aggregate (one stream per captured payment) and the decisions that span a payment
and its invoice: capture and refund (pure).

A payment stream's id is derived from the provider and the provider's payment id, so a repeated
webhook delivery finds the stream it created the first time and records nothing. Money taken at
the desk (cash, a card terminal) is a payment too, its "provider" the method (desk.py): the same
events, so the same postings in the ledger.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from backend.billing.events import PaymentApplied, PaymentCaptured, PaymentRefused, RefundIssued
from backend.billing.model import Invoice
from backend.kernel import money
from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.errors import Conflict, Invalid
from backend.kernel.events import DomainEvent
from backend.kernel.money import ZERO


@dataclass(frozen=True)
class Refund:
    """A refund recorded on the payment: our id (the provider's idempotency key) and the
    provider's reference."""

    id: UUID
    amount: Decimal
    gateway_reference: str


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
    refunds: tuple[Refund, ...] = ()

    @property
    def refundable(self) -> Decimal:
        return self.amount - self.refunded if self.status == "captured" else ZERO

    @property
    def unapplied(self) -> Decimal:
        """Money taken but applied to no invoice (a refused capture), for finance to reconcile."""
        return self.amount if self.status == "refused" else ZERO

    def refund_recorded(self, refund_id: UUID) -> Refund | None:
        return next((r for r in self.refunds if r.id == refund_id), None)


def payment_stream_id(provider: str, provider_payment_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"{provider}:{provider_payment_id}")


def refund_id_for(tenant_id: UUID, actor: str, idempotency_key: str) -> UUID:
    """The refund id of a request with an Idempotency-Key (scoped, like the key, to its
    caller). It is the provider's idempotency key: a retry of a request whose provider refunded
    but did not answer in time asks for the same refund again, and the provider refunds once."""
    return uuid5(NAMESPACE_URL, f"caretrail:refund:{tenant_id}:{actor}:{idempotency_key}")


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
            done = Refund(event.refund_id, event.amount, event.gateway_reference)
            return dataclasses.replace(
                state, refunded=state.refunded + event.amount, refunds=(*state.refunds, done)
            )
    return state


def view(state: Payment) -> dict[str, Any]:
    return {
        "id": state.id,
        "provider": state.provider,
        "provider_payment_id": state.provider_payment_id,
        "invoice_id": state.invoice_id,
        "amount": money.show(state.amount, state.currency),
        "currency": state.currency,
        "status": state.status,
        "refusal_code": state.refusal_code,
        "refusal_detail": state.refusal_detail,
        "refunded": money.show(state.refunded, state.currency),
        "refunds": [
            {
                "refund_id": r.id,
                "amount": money.show(r.amount, state.currency),
                "gateway_reference": r.gateway_reference,
            }
            for r in state.refunds
        ],
        "unapplied": money.show(state.unapplied, state.currency),
    }


@dataclass(frozen=True)
class Capture:
    """What the gateway reported: `amount` already parsed as money."""

    provider: str
    provider_payment_id: str
    invoice_id: UUID
    amount: Decimal
    currency: str


def valid_time(
    reported: dt.datetime, now: dt.datetime, max_age: dt.timedelta, drafted: dt.datetime | None
) -> dt.datetime:
    """When a capture took effect: the time the provider reported, never in the future, never
    before the invoice was drafted (`drafted`, if it exists) and no older than the tenant's
    policy allows (`max_age`): a payment dated 1999 posts when its invoice could be paid."""
    earliest = max(now - max_age, drafted) if drafted is not None else now - max_age
    return min(max(reported, earliest), now)


def capture(
    payment: Payment, invoice: Invoice, capture: Capture, *, claimed_elsewhere: bool = False
) -> tuple[list[DomainEvent], list[DomainEvent]]:
    """(payment events, invoice events). A capture already recorded records nothing.

    The money has been taken by the time we hear of it, so a capture is refused (recorded as
    PaymentRefused, not applied) only when it cannot be this tenant's or belong to the invoice:
    the provider's payment id is captured for another tenant (`claimed_elsewhere`), an unknown
    invoice or another currency. A draft invoice takes the payment too; its status follows once
    issued.
    """
    if payment.status != "none":
        return [], []
    payment_id = payment_stream_id(capture.provider, capture.provider_payment_id)
    why = CLAIMED_ELSEWHERE if claimed_elsewhere else refusal(invoice, capture)
    if why is not None:
        code, detail = why
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


CLAIMED_ELSEWHERE = (
    "PAYMENT_CLAIMED_ELSEWHERE",
    "the provider's payment id is already captured for another tenant",
)


def refusal(invoice: Invoice, capture: Capture) -> tuple[str, str] | None:
    """(code, detail) if the money cannot go to this invoice: unknown, void, another currency."""
    if invoice.id is None:
        return "UNKNOWN_INVOICE", f"no invoice {capture.invoice_id} in this tenant"
    if invoice.credit_note is not None:
        return "INVOICE_VOID", f"invoice {capture.invoice_id} is void"
    if capture.currency != invoice.currency:
        return (
            "CURRENCY_MISMATCH",
            f"the invoice is in {invoice.currency}, the payment in {capture.currency}",
        )
    return None


def check_refund(payment: Payment, invoice: Invoice, amount: Decimal, reason: str) -> Decimal:
    """Refuse a refund before the gateway is asked for it; the amount in the payment's places.
    A refund takes no more than the payment has left, nor than the invoice holds (credit it
    applied to another invoice is no longer there to give back)."""
    if payment.id is None or invoice.id is None or payment.invoice_id != invoice.id:
        raise Invalid("payment_id", "no such payment on this invoice")
    if payment.status != "captured":
        raise Conflict("PAYMENT_NOT_CAPTURED", "only a captured payment can be refunded")
    if not reason.strip():
        raise Invalid("reason", "must not be blank")
    try:
        amount = money.in_currency(amount, payment.currency, positive=True)
    except ValueError as e:
        raise Invalid("amount", str(e)) from None
    if amount > payment.refundable:
        left = money.show(payment.refundable, payment.currency)
        msg = f"at most {left} {payment.currency} of this payment is left to refund"
        raise Conflict("REFUND_EXCEEDS_PAYMENT", msg)
    if amount > invoice.received:
        held = money.show(invoice.received, payment.currency)
        msg = f"the invoice holds {held} {payment.currency} (credit applied elsewhere left it)"
        raise Conflict("REFUND_EXCEEDS_PAYMENT", msg)
    return amount


def check_same_refund(payment: Payment, invoice_id: UUID, done: Refund, amount: Decimal) -> None:
    """A request naming a refund already recorded (its Idempotency-Key again) must ask for the
    same refund."""
    if payment.invoice_id != invoice_id:
        raise Invalid("payment_id", "no such payment on this invoice")
    if amount != done.amount:
        msg = f"this Idempotency-Key already refunded {done.amount}, not {amount}"
        raise Invalid("Idempotency-Key", msg)


def refund(
    payment: Payment,
    invoice: Invoice,
    refund_id: UUID,
    amount: Decimal,
    reason: str,
    gateway_reference: str,
) -> RefundIssued:
    """The event for a refund the gateway made; goes to the payment and the invoice stream.
    It gives back the invoice's credit first; the rest cancels charges (see model.py)."""
    assert invoice.id is not None
    amount = check_refund(payment, invoice, amount, reason)
    assert payment.id is not None
    return RefundIssued(
        refund_id,
        payment.id,
        invoice.id,
        amount,
        payment.currency,
        reason.strip(),
        gateway_reference,
        min(amount, invoice.credit),
    )


PAYMENT = register_aggregate(Aggregate("payment", Payment, evolve, view, snapshot_version=2))
