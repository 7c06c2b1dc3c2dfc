"""The invoice aggregate: state, evolve, decide (pure).

A draft changes (lines, discount) until it is issued; issuing fixes its totals. Payments and
refunds move `paid` and `refunded`; the status follows from those sums, so payments applied in
any order lead to the same invoice.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from backend.billing.events import (
    DiscountApplied,
    InvoiceDrafted,
    InvoiceIssued,
    InvoiceLineAdded,
    InvoiceLineRemoved,
    PaymentApplied,
    RefundIssued,
)
from backend.billing.money import CENT, MAX_AMOUNT, ZERO, percent_of
from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.errors import Conflict, DomainError, Invalid, NotFound
from backend.kernel.events import DomainEvent

MAX_QUANTITY = 10_000
MAX_LINES = 200
MAX_CODE = 50
MAX_DESCRIPTION = 500


class DiscountNeedsApproval(DomainError):
    """A discount above the tenant's threshold asked for by a role that may not grant it."""

    code = "DISCOUNT_NEEDS_APPROVAL"
    status = 403


@dataclass(frozen=True)
class Line:
    id: UUID
    code: str
    description: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class NewLine:
    """A line as asked for, before it has an id."""

    code: str
    description: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class Invoice:
    id: UUID | None = None
    patient_id: UUID | None = None
    visit_id: UUID | None = None
    currency: str = ""
    lines: tuple[Line, ...] = ()
    discount_percent: Decimal = ZERO
    discount_reason: str | None = None
    issued: bool = False
    subtotal: Decimal = ZERO
    discount: Decimal = ZERO
    total: Decimal = ZERO
    paid: Decimal = ZERO
    refunded: Decimal = ZERO
    payment_ids: tuple[UUID, ...] = ()

    @property
    def balance(self) -> Decimal:
        """What is still owed; negative when more was paid than the total (a credit)."""
        return self.total - (self.paid - self.refunded)

    @property
    def status(self) -> str:
        net = self.paid - self.refunded
        if not self.issued:
            return "draft"
        if self.refunded > 0 and net <= 0:
            return "refunded"
        if net >= self.total:
            return "paid"
        return "partially_paid" if net > 0 else "issued"


def totals(lines: tuple[Line, ...], percent: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(subtotal, discount, total): the discount is rounded half up to the cent."""
    subtotal = sum((line.amount for line in lines), ZERO)
    discount = percent_of(subtotal, percent)
    return subtotal, discount, subtotal - discount


def evolve(state: Invoice, event: DomainEvent) -> Invoice:
    match event:
        case InvoiceDrafted():
            return Invoice(event.invoice_id, event.patient_id, event.visit_id, event.currency)
        case InvoiceLineAdded():
            line = Line(
                event.line_id, event.code, event.description, event.quantity, event.unit_price
            )
            return _repriced(state, lines=(*state.lines, line))
        case InvoiceLineRemoved():
            return _repriced(state, lines=tuple(x for x in state.lines if x.id != event.line_id))
        case DiscountApplied():
            return _repriced(state, discount_percent=event.percent, discount_reason=event.reason)
        case InvoiceIssued():
            return dataclasses.replace(
                state,
                issued=True,
                subtotal=event.subtotal,
                discount=event.discount,
                total=event.total,
            )
        case PaymentApplied():
            return dataclasses.replace(
                state,
                paid=state.paid + event.amount,
                payment_ids=(*state.payment_ids, event.payment_id),
            )
        case RefundIssued():
            return dataclasses.replace(state, refunded=state.refunded + event.amount)
    return state


def _repriced(state: Invoice, **changes: Any) -> Invoice:
    """A draft with changed lines or discount and its running totals."""
    changed = dataclasses.replace(state, **changes)
    subtotal, discount, total = totals(changed.lines, changed.discount_percent)
    return dataclasses.replace(changed, subtotal=subtotal, discount=discount, total=total)


def view(state: Invoice) -> dict[str, Any]:
    return {
        "id": state.id,
        "patient_id": state.patient_id,
        "visit_id": state.visit_id,
        "currency": state.currency,
        "status": state.status,
        "lines": [line_view(x) for x in state.lines],
        "discount_percent": str(state.discount_percent),
        "discount_reason": state.discount_reason,
        "subtotal": str(state.subtotal),
        "discount": str(state.discount),
        "total": str(state.total),
        "paid": str(state.paid),
        "refunded": str(state.refunded),
        "balance": str(state.balance),
        "credit": str(max(ZERO, -state.balance)),
        "payment_ids": list(state.payment_ids),
    }


def line_view(line: Line) -> dict[str, Any]:
    return {
        "line_id": line.id,
        "code": line.code,
        "description": line.description,
        "quantity": line.quantity,
        "unit_price": str(line.unit_price),
        "amount": str(line.amount),
    }


def draft(
    state: Invoice,
    invoice_id: UUID,
    patient_id: UUID,
    visit_id: UUID | None,
    currency: str,
    lines: list[tuple[UUID, NewLine]],
) -> list[DomainEvent]:
    if state.id is not None:
        raise Conflict("INVOICE_EXISTS", "the invoice already exists")
    if len(lines) > MAX_LINES:
        raise Invalid("lines", f"at most {MAX_LINES} lines")
    drafted = InvoiceDrafted(invoice_id, patient_id, visit_id, currency)
    return [drafted, *(_line_added(invoice_id, line_id, new) for line_id, new in lines)]


def add_line(state: Invoice, line_id: UUID, new: NewLine) -> list[DomainEvent]:
    _draft(state)
    if len(state.lines) >= MAX_LINES:
        raise Invalid("lines", f"at most {MAX_LINES} lines")
    return [_line_added(_id(state), line_id, new)]


def remove_line(state: Invoice, line_id: UUID) -> list[DomainEvent]:
    _draft(state)
    if all(line.id != line_id for line in state.lines):
        raise NotFound(f"line {line_id} not found")
    return [InvoiceLineRemoved(_id(state), line_id)]


def apply_discount(
    state: Invoice, percent: Decimal, reason: str, threshold: Decimal, may_approve: bool
) -> list[DomainEvent]:
    """`may_approve`: the caller may grant discounts above the tenant's `threshold`."""
    _draft(state)
    if not reason.strip():
        raise Invalid("reason", "must not be blank")
    if not ZERO <= percent <= 100:
        raise Invalid("percent", "from 0 to 100")
    if percent > threshold and not may_approve:
        msg = f"a discount above {threshold}% needs CLINIC_ADMIN or FINANCE_BILLING"
        raise DiscountNeedsApproval(msg)
    return [DiscountApplied(_id(state), percent, reason.strip())]


def issue(state: Invoice) -> list[DomainEvent]:
    _draft(state)
    if not state.lines:
        raise Conflict("INVOICE_EMPTY", "an invoice without lines cannot be issued")
    subtotal, discount, total = totals(state.lines, state.discount_percent)
    return [InvoiceIssued(_id(state), state.currency, subtotal, discount, total)]


def _line_added(invoice_id: UUID, line_id: UUID, new: NewLine) -> InvoiceLineAdded:
    check_line(new)
    return InvoiceLineAdded(
        invoice_id,
        line_id,
        new.code.strip(),
        new.description.strip(),
        new.quantity,
        new.unit_price.quantize(CENT),
    )


def check_line(new: NewLine) -> None:
    """Raises Invalid naming the line's field at fault."""
    if not 1 <= len(new.code.strip()) <= MAX_CODE:
        raise Invalid("code", f"1 to {MAX_CODE} characters, not blank")
    if not 1 <= len(new.description.strip()) <= MAX_DESCRIPTION:
        raise Invalid("description", f"1 to {MAX_DESCRIPTION} characters, not blank")
    if not 1 <= new.quantity <= MAX_QUANTITY:
        raise Invalid("quantity", f"a whole number from 1 to {MAX_QUANTITY}")
    if not ZERO <= new.unit_price <= MAX_AMOUNT or new.unit_price != new.unit_price.quantize(CENT):
        raise Invalid("unit_price", f"from 0.00 to {MAX_AMOUNT} with at most 2 decimal places")


def _draft(state: Invoice) -> None:
    if state.id is None:
        raise NotFound("invoice not found")
    if state.issued:
        raise Conflict("INVOICE_ISSUED", "an issued invoice cannot change")


def _id(state: Invoice) -> UUID:
    assert state.id is not None
    return state.id


INVOICE = register_aggregate(Aggregate("invoice", Invoice, evolve, view))
