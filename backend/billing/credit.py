"""Corrections of issued invoices (pure): a patient's credit applied to another of their
invoices, and a void by a credit note.

Both move no cash. A transfer takes credit (money an invoice holds beyond what it owes) to pay
what another invoice of the same patient owes; a void cancels what an invoice still charges,
and whatever was paid on it becomes credit, to refund or to apply elsewhere.
"""

from __future__ import annotations

from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid5

from backend.billing.events import CreditTransferredIn, CreditTransferredOut, InvoiceVoided
from backend.billing.model import Invoice
from backend.kernel import money
from backend.kernel.errors import Conflict, Invalid, NotFound


def credit_note_id_for(invoice_id: UUID) -> UUID:
    """An invoice is voided once, by one credit note."""
    return uuid5(NAMESPACE_URL, f"caretrail:credit-note:{invoice_id}")


def transfer(
    source: Invoice, target: Invoice, transfer_id: UUID, amount: Decimal
) -> tuple[CreditTransferredOut, CreditTransferredIn]:
    """(the source's event, the target's event). The target must be an issued invoice of the
    same patient that still owes at least `amount`; the source must hold that much credit."""
    if source.id is None:
        raise NotFound("invoice not found")
    if target.id is None or target.patient_id != source.patient_id:
        raise Invalid("to_invoice_id", "no invoice of the same patient")
    if target.id == source.id:
        raise Invalid("to_invoice_id", "must be another invoice")
    try:
        amount = money.in_currency(amount, source.currency, positive=True)
    except ValueError as e:
        raise Invalid("amount", str(e)) from None
    if target.currency != source.currency:
        raise Conflict("CURRENCY_MISMATCH", f"the other invoice is in {target.currency}")
    if amount > source.credit:
        left = money.show(source.credit, source.currency)
        raise Conflict("CREDIT_EXCEEDED", f"the invoice holds {left} {source.currency} of credit")
    _open(target)
    if amount > target.balance:
        owed = money.show(max(target.balance, Decimal(0)), target.currency)
        msg = f"the other invoice owes {owed} {target.currency}"
        raise Conflict("CREDIT_EXCEEDS_BALANCE", msg)
    return (
        CreditTransferredOut(source.id, transfer_id, target.id, amount, source.currency),
        CreditTransferredIn(target.id, transfer_id, source.id, amount, source.currency),
    )


def void(state: Invoice, reason: str) -> list[InvoiceVoided]:
    """A credit note for what the invoice still charges (`owed`)."""
    if state.id is None:
        raise NotFound("invoice not found")
    _open(state)
    if not reason.strip():
        raise Invalid("reason", "must not be blank")
    note_id = credit_note_id_for(state.id)
    return [InvoiceVoided(state.id, note_id, state.owed, state.currency, reason.strip())]


def _open(state: Invoice) -> None:
    """Issued and not void: an invoice that can be paid or voided."""
    if not state.issued:
        raise Conflict("INVOICE_NOT_ISSUED", "the invoice is a draft: issue it first")
    if state.credit_note is not None:
        raise Conflict("INVOICE_VOID", "the invoice is void")
