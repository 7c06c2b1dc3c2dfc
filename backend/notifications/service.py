"""Command handlers of the notifications context: templates, queueing, and the dispatcher's
three steps (start an attempt, record it sent, record it failed)."""

from __future__ import annotations

import datetime as dt
import functools
from uuid import UUID
from zoneinfo import ZoneInfo

from backend.billing.events import PaymentCaptured
from backend.billing.model import INVOICE
from backend.billing.money import CENT
from backend.handling import CommandResult, CommandSession
from backend.kernel.errors import Invalid
from backend.notifications import model, templates
from backend.notifications.events import NotificationAttemptStarted
from backend.notifications.model import NOTIFICATION, Notification, RetryPolicy
from backend.notifications.quiet_hours import outside_quiet_hours
from backend.notifications.templates import (
    APPOINTMENT_REMINDER,
    PAYMENT_RECEIPT,
    TEMPLATE,
    Template,
)
from backend.patients.model import PATIENT
from backend.scheduling.model import APPOINTMENT
from backend.tenancy.model import PRACTITIONER
from backend.tenancy.service import policy_of

REMINDER_LEAD = dt.timedelta(hours=24)
"""A reminder is due this long before the appointment (or at once if that is past)."""


async def set_template(
    session: CommandSession, name: str, channel: str, body: str
) -> CommandResult:
    templates.check_name(name)
    loaded = await session.load(TEMPLATE, templates.template_stream_id(session.tenant_id, name))
    return await session.save(loaded, templates.set_template(name, channel, body))


async def template_of(session: CommandSession, name: str) -> Template:
    """The tenant's template of that name, else the built-in default."""
    loaded = await session.load(TEMPLATE, templates.template_stream_id(session.tenant_id, name))
    if loaded.exists:
        return loaded.state
    if name not in templates.DEFAULTS:
        raise Invalid("template", f"no template {name!r} and no built-in default")
    return templates.DEFAULTS[name]


async def queue_for_patient(
    session: CommandSession,
    source_event_id: UUID,
    patient_id: UUID,
    template_name: str,
    values: dict[str, str],
    due: dt.datetime,
) -> CommandResult | None:
    """Queue the template rendered for the patient, at `due` or after the tenant's quiet hours;
    None (nothing recorded) if this source event already queued it."""
    nid = model.notification_id(source_event_id, template_name)
    notification = await session.load(NOTIFICATION, nid)
    if notification.exists:
        return None
    patient = (await session.load(PATIENT, patient_id)).state
    if patient.erased:
        return None  # nothing is ever sent to, or recorded about, an erased patient again
    policy = await policy_of(session)
    template = await template_of(session, template_name)
    values = {"patient_name": f"{patient.given_name} {patient.family_name}", **values}
    send_after = outside_quiet_hours(
        max(due, session.ctx.now),
        policy.quiet_hours_start,
        policy.quiet_hours_end,
        policy.timezone,
    )
    events = model.queue(
        notification.state,
        nid,
        patient_id,
        model.contact_for(template.channel, patient.phone, patient.email),
        template_name,
        templates.render(template.body, values),
        send_after,
        source_event_id,
    )
    return await session.save(notification, events)


async def queue_appointment_reminder(
    session: CommandSession, source_event_id: UUID, appointment_id: UUID
) -> CommandResult | None:
    """Nothing for an appointment no longer confirmed (cancelled before the reaction ran)."""
    appointment = (await session.load(APPOINTMENT, appointment_id)).state
    if appointment.status != "confirmed" or appointment.start is None:
        return None
    assert appointment.patient_id is not None and appointment.practitioner_id is not None
    practitioner = (await session.load(PRACTITIONER, appointment.practitioner_id)).state
    zone = ZoneInfo((await policy_of(session)).timezone)
    values = {
        "start": appointment.start.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "practitioner_name": practitioner.name,
    }
    return await queue_for_patient(
        session,
        source_event_id,
        appointment.patient_id,
        APPOINTMENT_REMINDER,
        values,
        appointment.start - REMINDER_LEAD,
    )


async def queue_payment_receipt(
    session: CommandSession, source_event_id: UUID, captured: PaymentCaptured
) -> CommandResult | None:
    """A receipt for the invoice's patient, due at once (after quiet hours)."""
    invoice = (await session.load(INVOICE, captured.invoice_id)).state
    if invoice.patient_id is None:
        return None  # a captured payment always names an existing invoice; defence in depth
    values = {
        "amount": str(captured.amount.quantize(CENT)),
        "currency": captured.currency,
        "invoice_id": str(captured.invoice_id),
    }
    return await queue_for_patient(
        session, source_event_id, invoice.patient_id, PAYMENT_RECEIPT, values, session.ctx.now
    )


async def start_attempt(
    session: CommandSession, nid: UUID, lease: dt.timedelta
) -> Notification | None:
    """The notification with its attempt recorded as started, or None if there is nothing to
    send (none due, or it was escalated instead)."""
    loaded = await session.load(NOTIFICATION, nid)
    events = model.start_attempt(loaded.state, session.ctx.now, lease)
    if not events:
        return None
    await session.save(loaded, events)
    if not isinstance(events[-1], NotificationAttemptStarted):
        return None
    return functools.reduce(model.evolve, events, loaded.state)


async def record_sent(
    session: CommandSession, nid: UUID, attempt: int, provider_message_id: str
) -> None:
    loaded = await session.load(NOTIFICATION, nid)
    await session.save(loaded, model.record_sent(loaded.state, attempt, provider_message_id))


async def record_failure(
    session: CommandSession, nid: UUID, attempt: int, error: str, retry: RetryPolicy
) -> None:
    loaded = await session.load(NOTIFICATION, nid)
    events = model.record_failure(loaded.state, attempt, error, session.ctx.now, retry)
    await session.save(loaded, events)
