"""Command handlers of the billing context: load, decide, save."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from backend.auth.principal import Role
from backend.billing import model, payment, visit
from backend.billing.gateway import GatewayError, PaymentGateway, RefundRequest
from backend.billing.model import INVOICE, NewLine
from backend.billing.payment import PAYMENT, Capture, payment_stream_id
from backend.handling import CommandResult, CommandSession, Loaded
from backend.kernel.errors import Invalid, NotFound
from backend.patients.model import PATIENT
from backend.tenancy.model import TENANT
from backend.tenancy.service import policy_of

APPROVES_DISCOUNTS = frozenset({Role.CLINIC_ADMIN, Role.FINANCE_BILLING})


GATEWAY_SECONDS = 3.0
"""How long a refund waits for the provider (see refund)."""


async def draft_invoice(
    session: CommandSession,
    invoice_id: UUID,
    patient_id: UUID,
    visit_id: UUID | None,
    lines: list[NewLine],
) -> CommandResult:
    invoice = await session.load(INVOICE, invoice_id)
    return await _draft(session, invoice, patient_id, visit_id, [(uuid4(), x) for x in lines])


async def draft_invoice_for_visit(
    session: CommandSession, visit_id: UUID, patient_id: UUID, services: list[dict[str, Any]]
) -> CommandResult:
    """The visit's invoice with a line per service; for a reaction, so safe to run again: the
    invoice id derives from the visit, and a second run returns the invoice as it is."""
    invoice_id = visit.visit_invoice_id(visit_id)
    invoice = await session.load(INVOICE, invoice_id)
    if invoice.exists:
        return await session.save(invoice, [])
    lines = visit.lines_from_services(services)
    numbered = [(visit.line_id(invoice_id, i), line) for i, line in enumerate(lines)]
    return await _draft(session, invoice, patient_id, visit_id, numbered)


async def _draft(
    session: CommandSession,
    invoice: Loaded[model.Invoice],
    patient_id: UUID,
    visit_id: UUID | None,
    lines: list[tuple[UUID, NewLine]],
) -> CommandResult:
    """`invoice` was loaded first: a concurrent draft of the same id then fails the append (and
    the retry finds it) instead of being seen half way through this attempt."""
    if not (await session.load(PATIENT, patient_id)).exists:
        raise Invalid("patient_id", "no such patient")
    currency = (await policy_of(session)).currency
    events = model.draft(invoice.state, invoice.stream_id, patient_id, visit_id, currency, lines)
    return await session.save(invoice, events)


async def add_line(
    session: CommandSession, invoice_id: UUID, line_id: UUID, line: NewLine
) -> CommandResult:
    invoice = await session.load(INVOICE, invoice_id, conditional=True)
    result = await session.save(invoice, model.add_line(invoice.state, line_id, line))
    return dataclasses.replace(result, view={**result.view, "line_id": line_id})


async def remove_line(session: CommandSession, invoice_id: UUID, line_id: UUID) -> CommandResult:
    invoice = await session.load(INVOICE, invoice_id, conditional=True)
    return await session.save(invoice, model.remove_line(invoice.state, line_id))


async def apply_discount(
    session: CommandSession, invoice_id: UUID, percent: Decimal, reason: str
) -> CommandResult:
    invoice = await session.load(INVOICE, invoice_id, conditional=True)
    threshold = (await policy_of(session)).discount_threshold_percent
    may_approve = session.ctx.principal.has_any(APPROVES_DISCOUNTS)
    events = model.apply_discount(invoice.state, percent, reason, threshold, may_approve)
    return await session.save(invoice, events)


async def issue(session: CommandSession, invoice_id: UUID) -> CommandResult:
    invoice = await session.load(INVOICE, invoice_id, conditional=True)
    return await session.save(invoice, model.issue(invoice.state))


async def capture_payment(
    session: CommandSession, capture: Capture, captured_at: dt.datetime
) -> CommandResult:
    """A capture the gateway reported (signature already checked): PaymentCaptured on the
    payment stream and PaymentApplied on the invoice, or PaymentRefused alone. The payment
    stream's view says which (`status`)."""
    if not (await session.load(TENANT, session.tenant_id)).exists:
        raise Invalid("tenant_id", "no such tenant")
    stream_id = payment_stream_id(capture.provider, capture.provider_payment_id)
    paid = await session.load(PAYMENT, stream_id)
    if paid.exists:
        return await _delivered_before(session, paid)
    invoice = await session.load(INVOICE, capture.invoice_id)
    payment_events, invoice_events = payment.capture(paid.state, invoice.state, capture)
    others = {capture.invoice_id: (invoice, invoice_events)} if invoice_events else {}
    return await session.save(paid, payment_events, others, occurred_at=captured_at)


async def _delivered_before(
    session: CommandSession, paid: Loaded[payment.Payment]
) -> CommandResult:
    """The answer to a repeated delivery: the payment as recorded, and a position at or past
    the first answer's (which was that of the invoice's PaymentApplied, appended after the
    payment's event), so a read with it sees the payment applied."""
    result = await session.save(paid, [])
    if paid.state.status != "captured" or paid.state.invoice_id is None:
        return result
    invoice = await session.load(INVOICE, paid.state.invoice_id)
    return dataclasses.replace(result, position=max(result.position, invoice.last_position))


async def refund(
    session: CommandSession,
    gateway: PaymentGateway,
    invoice_id: UUID,
    refund_id: UUID,
    payment_id: UUID,
    amount: Decimal,
    reason: str,
) -> CommandResult:
    """Refund at the gateway, then record RefundIssued on the payment and the invoice.

    Refunds of one payment take turns (a transaction-scoped advisory lock): the gateway call
    cannot be undone, so a concurrent refund must not decide on the balance before this one is
    recorded. `refund_id` is the gateway's idempotency key, so a retried attempt does not
    refund twice."""
    await session.conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", str(payment_id)
    )
    invoice = await session.load(INVOICE, invoice_id, conditional=True)
    if not invoice.exists:
        raise NotFound("invoice not found")
    paid = await session.load(PAYMENT, payment_id)
    payment.check_refund(paid.state, invoice_id, amount, reason)
    request = RefundRequest(
        refund_id, paid.state.provider, paid.state.provider_payment_id, amount, paid.state.currency
    )
    try:
        # Inside the transaction: bounded well below the runtime role's 5 s idle limit, past
        # which PostgreSQL would end the session after the provider had refunded.
        async with asyncio.timeout(GATEWAY_SECONDS):
            reference = await gateway.refund(request)
    except TimeoutError:
        msg = f"the payment provider did not answer within {GATEWAY_SECONDS} s; nothing recorded"
        raise GatewayError(msg) from None
    event = payment.refund(paid.state, invoice_id, refund_id, amount, reason, reference)
    result = await session.save(invoice, [event], {payment_id: (paid, [event])})
    refund_view = {"refund_id": refund_id, "payment_id": payment_id, "amount": str(amount)}
    return dataclasses.replace(
        result, view={**result.view, "refund": {**refund_view, "gateway_reference": reference}}
    )
