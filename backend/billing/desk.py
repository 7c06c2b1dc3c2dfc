"""Money taken at the desk: cash or a card terminal, recorded by staff (pure).

A desk payment is a payment like a gateway's capture (PaymentCaptured on its own stream,
PaymentApplied on the invoice), so the ledger posts it the same way: debit cash, credit the
invoice's receivable. Its provider is the method and its provider payment id the id the desk
request was given (a new id per request: Idempotency-Key makes a retry safe). Unlike a
capture, whose money the gateway has taken before we hear of it, a desk payment is refused
outright: staff are there to take the money back.

Refunds of desk payments are handed back at the desk (or on the terminal): no gateway is asked.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Literal, get_args
from uuid import UUID

from backend.billing.model import Invoice
from backend.billing.payment import Capture, Payment, capture, refusal
from backend.kernel import money
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent

Method = Literal["cash", "card_terminal"]
METHODS: tuple[str, ...] = get_args(Method)


def is_desk(provider: str) -> bool:
    return provider in METHODS


def desk_reference(refund_id: UUID) -> str:
    """The refund's reference where no provider gives one."""
    return f"desk_{refund_id.hex}"


def take(
    invoice: Invoice, method: str, desk_id: UUID, amount: Decimal
) -> tuple[list[DomainEvent], list[DomainEvent]]:
    """(payment events, invoice events) for money taken at the desk, in the invoice's currency:
    the events of a capture (payment.capture). A draft takes it as a prepayment, as it takes a
    capture."""
    if method not in METHODS:
        raise Invalid("method", f"one of {', '.join(METHODS)}")
    if invoice.id is None:
        raise NotFound("invoice not found")
    taken = Capture(method, str(desk_id), invoice.id, amount, invoice.currency)
    refused = refusal(invoice, taken)
    if refused is not None:
        raise Conflict(*refused)
    try:
        amount = money.in_currency(amount, invoice.currency, positive=True)
    except ValueError as e:
        raise Invalid("amount", str(e)) from None
    return capture(Payment(), invoice, dataclasses.replace(taken, amount=amount))
