"""The invoice aggregate: state, evolve, decide (pure).

A draft changes (lines, discount) until it is issued; issuing fixes its totals. Payments and
refunds move `paid` and `refunded`; the status follows from those sums, so payments applied in
any order lead to the same invoice.

The balance is the invoice's receivable, exactly as the ledger (ledger.py) keeps it: what is
owed once issued (nothing before), less the money it holds (`received`: paid less refunded, plus
credit moved in from another invoice of the patient, less credit moved out to one).
A refund first gives back the invoice's credit (money held beyond what it owed); the rest of it
cancels that much of the charge: the patient no longer owes what was refunded to them. A void
cancels what is still charged by a credit note; money held stays as credit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from backend.billing.events import (
    CreditTransferredIn,
    CreditTransferredOut,
    DiscountApplied,
    InvoiceDrafted,
    InvoiceIssued,
    InvoiceLineAdded,
    InvoiceLineRemoved,
    InvoiceVoided,
    PaymentApplied,
    RefundIssued,
)
from backend.kernel import money
from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.charges import MAX_LINES, NewLine, check_line
from backend.kernel.errors import Conflict, DomainError, Invalid, NotFound
from backend.kernel.events import DomainEvent
from backend.kernel.money import MAX_AMOUNT, ZERO, percent_of


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
class CreditNote:
    """What voided an issued invoice: the charge it cancelled (`amount`) and why."""

    id: UUID
    amount: Decimal
    reason: str


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
    returned_credit: Decimal = ZERO
    """The part of `refunded` that gave back credit; the rest cancelled charges."""
    payment_ids: tuple[UUID, ...] = ()
    credit_in: Decimal = ZERO
    """Credit of the patient's other invoices applied to this one."""
    credit_out: Decimal = ZERO
    """Credit of this invoice applied to the patient's other invoices."""
    credit_note: CreditNote | None = None

    @property
    def owed(self) -> Decimal:
        """What the patient is charged: the issued total less the charges refunds and a credit
        note cancelled (nothing while a draft: the ledger has no receivable for it yet)."""
        if not self.issued:
            return ZERO
        credited = self.credit_note.amount if self.credit_note is not None else ZERO
        return self.total - self.refunded_charges - credited

    @property
    def refunded_charges(self) -> Decimal:
        return self.refunded - self.returned_credit

    @property
    def received(self) -> Decimal:
        """The money the invoice holds: paid less refunded, plus credit moved in, less credit
        moved out. No refund may take more than this."""
        return self.paid - self.refunded + self.credit_in - self.credit_out

    @property
    def balance(self) -> Decimal:
        """What is still owed, the ledger's receivable; negative is a credit (money held for
        the patient: an overpayment, a prepayment of a draft, what was paid on a void)."""
        return self.owed - self.received

    @property
    def credit(self) -> Decimal:
        return max(ZERO, -self.balance)

    @property
    def status(self) -> str:
        net = self.received
        if not self.issued:
            return "draft"
        if self.credit_note is not None:
            return "void"
        if self.refunded > 0 and net <= 0:
            return "refunded"
        if self.balance <= 0:
            return "paid"
        return "partially_paid" if net > 0 else "issued"


def totals(
    lines: tuple[Line, ...], percent: Decimal, currency: str
) -> tuple[Decimal, Decimal, Decimal]:
    """(subtotal, discount, total) in the currency's places: the discount is rounded half up
    to its minor unit."""
    subtotal = sum((line.amount for line in lines), ZERO).quantize(money.unit(currency))
    discount = percent_of(subtotal, percent, currency)
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
            return dataclasses.replace(
                state,
                refunded=state.refunded + event.amount,
                returned_credit=state.returned_credit + event.returned_credit,
            )
        case CreditTransferredOut():
            return dataclasses.replace(state, credit_out=state.credit_out + event.amount)
        case CreditTransferredIn():
            return dataclasses.replace(state, credit_in=state.credit_in + event.amount)
        case InvoiceVoided():
            note = CreditNote(event.credit_note_id, event.amount, event.reason)
            return dataclasses.replace(state, credit_note=note)
    return state


def _repriced(state: Invoice, **changes: Any) -> Invoice:
    """A draft with changed lines or discount and its running totals."""
    changed = dataclasses.replace(state, **changes)
    subtotal, discount, total = totals(changed.lines, changed.discount_percent, changed.currency)
    return dataclasses.replace(changed, subtotal=subtotal, discount=discount, total=total)


def view(state: Invoice) -> dict[str, Any]:
    def show(amount: Decimal) -> str:
        return money.show(amount, state.currency)

    return {
        "id": state.id,
        "patient_id": state.patient_id,
        "visit_id": state.visit_id,
        "currency": state.currency,
        "status": state.status,
        "lines": [line_view(x, state.currency) for x in state.lines],
        "discount_percent": str(state.discount_percent),
        "discount_reason": state.discount_reason,
        "subtotal": show(state.subtotal),
        "discount": show(state.discount),
        "total": show(state.total),
        "paid": show(state.paid),
        "refunded": show(state.refunded),
        "returned_credit": show(state.returned_credit),
        "refunded_charges": show(state.refunded_charges),
        "balance": show(state.balance),
        "credit": show(state.credit),
        "payment_ids": list(state.payment_ids),
        "received": show(state.received),
        "credit_in": show(state.credit_in),
        "credit_out": show(state.credit_out),
        "credit_note": None if state.credit_note is None else credit_note_view(state),
    }


def credit_note_view(state: Invoice) -> dict[str, Any]:
    assert state.credit_note is not None
    note = state.credit_note
    return {
        "credit_note_id": note.id,
        "amount": money.show(note.amount, state.currency),
        "reason": note.reason,
    }


def line_view(line: Line, currency: str) -> dict[str, Any]:
    return {
        "line_id": line.id,
        "code": line.code,
        "description": line.description,
        "quantity": line.quantity,
        "unit_price": money.show(line.unit_price, currency),
        "amount": money.show(line.amount, currency),
    }


def draft(
    state: Invoice,
    invoice_id: UUID,
    patient_id: UUID,
    visit_id: UUID | None,
    currency: str,
    lines: list[tuple[UUID, NewLine]],
    cap: Decimal = MAX_AMOUNT,
) -> list[DomainEvent]:
    """`cap`: the tenant's largest invoice total (its policy's invoice_max_total)."""
    if state.id is not None:
        raise Conflict("INVOICE_EXISTS", "the invoice already exists")
    if len(lines) > MAX_LINES:
        raise Invalid("lines", f"at most {MAX_LINES} lines")
    drafted = InvoiceDrafted(invoice_id, patient_id, visit_id, currency)
    added = [
        _nth_line(i, invoice_id, line_id, new, currency) for i, (line_id, new) in enumerate(lines)
    ]
    _within_cap(sum((x.unit_price * x.quantity for x in added), ZERO), cap, "lines")
    return [drafted, *added]


def add_line(
    state: Invoice, line_id: UUID, new: NewLine, cap: Decimal = MAX_AMOUNT
) -> list[DomainEvent]:
    _draft(state)
    if len(state.lines) >= MAX_LINES:
        raise Invalid("lines", f"at most {MAX_LINES} lines")
    added = _line_added(_id(state), line_id, new, state.currency)
    _within_cap(state.subtotal + added.unit_price * added.quantity, cap, "unit_price")
    return [added]


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


def issue(state: Invoice, cap: Decimal = MAX_AMOUNT) -> list[DomainEvent]:
    """A draft over the cap (lowered since its lines were added) is not issued."""
    _draft(state)
    if not state.lines:
        raise Conflict("INVOICE_EMPTY", "an invoice without lines cannot be issued")
    subtotal, discount, total = totals(state.lines, state.discount_percent, state.currency)
    if total > cap:
        msg = f"the total {total} is above the tenant's invoice_max_total {cap}"
        raise Conflict("INVOICE_OVER_CAP", msg)
    return [InvoiceIssued(_id(state), state.currency, subtotal, discount, total)]


def _within_cap(subtotal: Decimal, cap: Decimal, field: str) -> None:
    if subtotal > cap:
        msg = f"the invoice's subtotal would be {subtotal}, above invoice_max_total {cap}"
        raise Invalid(field, msg)


def _nth_line(
    index: int, invoice_id: UUID, line_id: UUID, new: NewLine, currency: str
) -> InvoiceLineAdded:
    """The request's `index`th line, a fault named as its field in the request."""
    try:
        return _line_added(invoice_id, line_id, new, currency)
    except Invalid as e:
        raise Invalid(f"lines.{index}.{e.field}", e.message) from None


def _line_added(invoice_id: UUID, line_id: UUID, new: NewLine, currency: str) -> InvoiceLineAdded:
    check_line(new, currency)
    return InvoiceLineAdded(
        invoice_id,
        line_id,
        new.code.strip(),
        new.description.strip(),
        new.quantity,
        new.unit_price.quantize(money.unit(currency)),
    )


def _draft(state: Invoice) -> None:
    if state.id is None:
        raise NotFound("invoice not found")
    if state.issued:
        raise Conflict("INVOICE_ISSUED", "an issued invoice cannot change")


def _id(state: Invoice) -> UUID:
    assert state.id is not None
    return state.id


INVOICE = register_aggregate(Aggregate("invoice", Invoice, evolve, view, snapshot_version=3))
