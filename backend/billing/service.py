"""Command handlers of the billing context: load, decide, save."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from backend.auth.principal import Role
from backend.billing import claims, credit, desk, model, payment, visit
from backend.billing.gateway import GatewayError, PaymentGateway, RefundRequest
from backend.billing.model import INVOICE
from backend.billing.payment import PAYMENT, Capture, payment_stream_id
from backend.handling import CommandResult, CommandSession, Loaded
from backend.kernel import money
from backend.kernel.charges import NewLine
from backend.kernel.errors import Invalid, NotFound
from backend.patients.model import PATIENT
from backend.tenancy.model import TENANT

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
    """`invoice_id` is new (the route makes it)."""
    invoice = session.new(INVOICE, invoice_id)
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
    policy = (await session.state_of(TENANT, session.tenant_id)).policy
    events = model.draft(
        invoice.state,
        invoice.stream_id,
        patient_id,
        visit_id,
        policy.currency,
        lines,
        policy.invoice_max_total,
    )
    return await session.save(invoice, events)


async def add_line(
    session: CommandSession, invoice_id: UUID, line_id: UUID, line: NewLine
) -> CommandResult:
    invoice = await session.load(INVOICE, invoice_id, conditional=True)
    cap = (await session.state_of(TENANT, session.tenant_id)).policy.invoice_max_total
    result = await session.save(invoice, model.add_line(invoice.state, line_id, line, cap))
    return dataclasses.replace(result, view={**result.view, "line_id": line_id})


async def remove_line(session: CommandSession, invoice_id: UUID, line_id: UUID) -> CommandResult:
    invoice = await session.load(INVOICE, invoice_id, conditional=True)
    return await session.save(invoice, model.remove_line(invoice.state, line_id))


async def apply_discount(
    session: CommandSession, invoice_id: UUID, percent: Decimal, reason: str
) -> CommandResult:
    invoice = await session.load(INVOICE, invoice_id, conditional=True)
    threshold = (
        (await session.state_of(TENANT, session.tenant_id)).policy
    ).discount_threshold_percent
    may_approve = session.ctx.principal.has_any(APPROVES_DISCOUNTS)
    events = model.apply_discount(invoice.state, percent, reason, threshold, may_approve)
    return await session.save(invoice, events)


async def issue(session: CommandSession, invoice_id: UUID) -> CommandResult:
    invoice = await session.load(INVOICE, invoice_id, conditional=True)
    cap = (await session.state_of(TENANT, session.tenant_id)).policy.invoice_max_total
    return await session.save(invoice, model.issue(invoice.state, cap))


async def capture_payment(
    session: CommandSession, capture: Capture, reported_at: dt.datetime
) -> CommandResult:
    """A capture the gateway reported (signature already checked): PaymentCaptured on the
    payment stream and PaymentApplied on the invoice, or PaymentRefused alone. The payment
    stream's view says which (`status`). The provider's payment id is claimed for the tenant
    in the same transaction (claims.py): another tenant's claim refuses the capture."""
    if not (await session.load(TENANT, session.tenant_id)).exists:
        raise Invalid("tenant_id", "no such tenant")
    stream_id = payment_stream_id(capture.provider, capture.provider_payment_id)
    paid = await session.load(PAYMENT, stream_id)
    if paid.exists:
        return await _delivered_before(session, paid)
    invoice = await session.load(INVOICE, capture.invoice_id)
    policy = (await session.state_of(TENANT, session.tenant_id)).policy
    drafted = await _first_occurred_at(session, "invoice", capture.invoice_id)
    captured_at = payment.valid_time(reported_at, session.ctx.now, policy.max_late, drafted)
    ours = await claims.claim(
        session.conn, session.tenant_id, capture.provider, capture.provider_payment_id, stream_id
    )
    payment_events, invoice_events = payment.capture(
        paid.state, invoice.state, capture, claimed_elsewhere=not ours
    )
    others = {capture.invoice_id: (invoice, invoice_events)} if invoice_events else {}
    return await session.save(paid, payment_events, others, occurred_at=captured_at)


async def _first_occurred_at(
    session: CommandSession, stream_type: str, stream_id: UUID
) -> dt.datetime | None:
    """The valid time of a stream's first event (None: no such stream in this tenant)."""
    first: dt.datetime | None = await session.conn.fetchval(
        "SELECT occurred_at FROM events WHERE tenant_id = $1 AND stream_type = $2"
        " AND stream_id = $3 AND version = 1",
        session.tenant_id,
        stream_type,
        stream_id,
    )
    return first


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

    Commands that lower what an invoice holds take turns on it (`_take_turns`): the gateway
    call cannot be undone, so a concurrent refund or credit transfer must not change what this
    refund was decided on before it is recorded. `refund_id` is the gateway's idempotency key,
    so a retried attempt does not refund twice (see payment.refund_id_for); a refund already
    recorded under it is answered as recorded, without asking the gateway again."""
    await _take_turns(session, invoice_id)
    invoice = await session.load(INVOICE, invoice_id, conditional=True)
    if not invoice.exists:
        raise NotFound("invoice not found")
    paid = await session.load(PAYMENT, payment_id)
    done = paid.state.refund_recorded(refund_id)
    if done is not None:
        payment.check_same_refund(paid.state, invoice_id, done, amount)
        return _with_refund(await session.save(invoice, []), paid.state, done)
    amount = payment.check_refund(paid.state, invoice.state, amount, reason)
    if desk.is_desk(paid.state.provider):
        reference = desk.desk_reference(refund_id)  # handed back at the desk
    else:
        reference = await _refund_at_gateway(gateway, paid.state, refund_id, amount)
    event = payment.refund(paid.state, invoice.state, refund_id, amount, reason, reference)
    result = await session.save(invoice, [event], {payment_id: (paid, [event])})
    done = payment.Refund(refund_id, event.amount, reference)
    return _with_refund(result, paid.state, done)


async def _take_turns(session: CommandSession, invoice_id: UUID) -> None:
    """Wait for any other refund or credit transfer out of this invoice to commit (an advisory
    lock held to the end of the transaction)."""
    await session.conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", str(invoice_id)
    )


async def _refund_at_gateway(
    gateway: PaymentGateway, paid: payment.Payment, refund_id: UUID, amount: Decimal
) -> str:
    """The provider's reference of the refund it made."""
    request = RefundRequest(
        refund_id, paid.provider, paid.provider_payment_id, amount, paid.currency
    )
    try:
        # Inside the transaction: bounded well below the runtime role's 5 s idle limit, past
        # which PostgreSQL would end the session after the provider had refunded.
        async with asyncio.timeout(GATEWAY_SECONDS):
            return await gateway.refund(request)
    except TimeoutError:
        msg = f"the payment provider did not answer within {GATEWAY_SECONDS} s; nothing recorded"
        raise GatewayError(msg) from None


async def take_at_desk(
    session: CommandSession, invoice_id: UUID, method: str, desk_id: UUID, amount: Decimal
) -> CommandResult:
    """Cash or a card terminal's payment taken by staff (desk.py); answers with the payment.
    `desk_id` is new (the route makes it)."""
    invoice = await session.load(INVOICE, invoice_id, conditional=True)
    paid = session.new(PAYMENT, payment_stream_id(method, str(desk_id)))
    payment_events, invoice_events = desk.take(invoice.state, method, desk_id, amount)
    return await session.save(paid, payment_events, {invoice_id: (invoice, invoice_events)})


async def transfer_credit(
    session: CommandSession,
    invoice_id: UUID,
    to_invoice_id: UUID,
    transfer_id: UUID,
    amount: Decimal,
) -> CommandResult:
    """The invoice's credit applied to another invoice of the patient, both in one
    transaction; answers with the source invoice."""
    await _take_turns(session, invoice_id)
    source = await session.load(INVOICE, invoice_id, conditional=True)
    target = await session.load(INVOICE, to_invoice_id)
    out, into = credit.transfer(source.state, target.state, transfer_id, amount)
    return await session.save(source, [out], {to_invoice_id: (target, [into])})


async def void(session: CommandSession, invoice_id: UUID, reason: str) -> CommandResult:
    invoice = await session.load(INVOICE, invoice_id, conditional=True)
    return await session.save(invoice, list(credit.void(invoice.state, reason)))


def _with_refund(
    result: CommandResult, paid: payment.Payment, done: payment.Refund
) -> CommandResult:
    refund_view = {
        "refund_id": done.id,
        "payment_id": paid.id,
        "amount": money.show(done.amount, paid.currency),
        "gateway_reference": done.gateway_reference,
    }
    return dataclasses.replace(result, view={**result.view, "refund": refund_view})
