"""Command handlers of the notifications context: templates, queueing and withdrawing, and the
dispatcher's steps (start an attempt, check right before sending that it still holds, record it
sent or failed)."""

from __future__ import annotations

import datetime as dt
import functools
from uuid import UUID
from zoneinfo import ZoneInfo

from backend.admissions.stays import STAY, stay_stream_id
from backend.billing.events import PaymentCaptured
from backend.billing.model import INVOICE
from backend.handling import CommandResult, CommandSession
from backend.kernel import phones
from backend.kernel.errors import Invalid
from backend.kernel.money import CENT
from backend.notifications import circumstances, model, templates
from backend.notifications.circumstances import Circumstances
from backend.notifications.events import NotificationAttemptStarted
from backend.notifications.model import NOTIFICATION, Notification, RetryPolicy
from backend.notifications.quiet_hours import QuietHours
from backend.notifications.templates import (
    APPOINTMENT_REMINDER,
    PAYMENT_RECEIPT,
    TEMPLATE,
    WAITLIST_OFFER,
    Template,
)
from backend.patients.model import PATIENT, status_of
from backend.scheduling.events import AppointmentConfirmed
from backend.scheduling.model import APPOINTMENT
from backend.scheduling.waitlist import WaitlistSlotOffered
from backend.tenancy.model import PRACTITIONER, TENANT

REMINDER_LEAD = dt.timedelta(hours=24)
"""A reminder is due this long before the appointment (or at once if that is past)."""
CONFIRMED = AppointmentConfirmed.type_name()


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
    appointment_id: UUID | None = None,
) -> CommandResult | None:
    """Queue the template rendered for the patient, due at `due` (or now, if that is past; quiet
    hours are the dispatcher's to apply when it comes due); None (nothing recorded) if this
    source event already queued it, or the patient is erased or deceased."""
    nid = model.notification_id(source_event_id, template_name)
    notification = await session.load(NOTIFICATION, nid)
    if notification.exists:
        return None
    patient = (await session.load(PATIENT, patient_id)).state
    if status_of(patient) != "active":
        return None  # nothing is sent to the dead, or recorded about the erased, again
    template = await template_of(session, template_name)
    values = {"patient_name": f"{patient.given_name} {patient.family_name}", **values}
    region = (await session.state_of(TENANT, session.tenant_id)).policy.phone_region
    events = model.queue(
        notification.state,
        nid,
        patient_id,
        model.contact_for(template.channel, phones.dialable(patient.phone, region), patient.email),
        template_name,
        templates.render(template.body, values),
        max(due, session.ctx.now),
        source_event_id,
        appointment_id,
    )
    return await session.save(notification, events)


async def queue_appointment_reminder(
    session: CommandSession, source_event_id: UUID, appointment_id: UUID
) -> CommandResult | None:
    """Nothing for an appointment no longer confirmed (cancelled or checked in before the
    reaction ran) or whose start has passed."""
    appointment = (await session.load(APPOINTMENT, appointment_id)).state
    if appointment.status != "confirmed" or appointment.start is None:
        return None
    if appointment.start <= session.ctx.now:
        return None
    assert appointment.patient_id is not None and appointment.practitioner_id is not None
    practitioner = (await session.load(PRACTITIONER, appointment.practitioner_id)).state
    zone = ZoneInfo((await session.state_of(TENANT, session.tenant_id)).policy.timezone)
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
        appointment_id,
    )


async def withdraw_appointment_reminder(
    session: CommandSession, appointment_id: UUID
) -> CommandResult | None:
    """The pending reminder of an appointment that ended (cancelled, checked in, completed,
    no-show) is withdrawn. The reminder is named after the appointment's confirmation, so it is
    found also when it was queued before reminders named their appointment. None if the
    appointment was never confirmed (no reminder)."""
    recorded = await session.store.read_stream(
        session.conn, APPOINTMENT.stream_type, appointment_id
    )
    confirmation = next((e.event_id for e in recorded if e.event_type == CONFIRMED), None)
    if confirmation is None:
        return None
    reminder = await session.load(
        NOTIFICATION, model.notification_id(confirmation, APPOINTMENT_REMINDER)
    )
    status = (await session.load(APPOINTMENT, appointment_id)).state.status
    return await session.save(reminder, model.withdraw(reminder.state, circumstances.ended(status)))


async def queue_payment_receipt(
    session: CommandSession, source_event_id: UUID, captured: PaymentCaptured
) -> CommandResult | None:
    """A receipt for the invoice's patient, due at once (the dispatcher holds it past quiet
    hours)."""
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


async def queue_waitlist_offer(
    session: CommandSession, source_event_id: UUID, offered: WaitlistSlotOffered
) -> CommandResult | None:
    """The offer of a freed slot, due at once: it is worth nothing once its window has run
    out (quiet hours may hold it back; the offer expires all the same)."""
    practitioner = (await session.load(PRACTITIONER, offered.practitioner_id)).state
    zone = ZoneInfo((await session.state_of(TENANT, session.tenant_id)).policy.timezone)
    values = {
        "start": offered.start.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "expires": offered.expires_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "practitioner_name": practitioner.name,
        "offer_id": str(offered.offer_id),
    }
    return await queue_for_patient(
        session, source_event_id, offered.patient_id, WAITLIST_OFFER, values, session.ctx.now
    )


async def circumstances_of(session: CommandSession, notification: Notification) -> Circumstances:
    """What the message depends on, as of this transaction (see circumstances.py)."""
    assert notification.patient_id is not None
    patient = (await session.load(PATIENT, notification.patient_id)).state
    policy = (await session.state_of(TENANT, session.tenant_id)).policy
    quiet_hours = QuietHours(policy.quiet_hours_start, policy.quiet_hours_end, policy.timezone)
    if notification.appointment_id is None:
        return Circumstances(status_of(patient), quiet_hours)
    appointment = (await session.load(APPOINTMENT, notification.appointment_id)).state
    stay = (await session.load(STAY, stay_stream_id(notification.patient_id))).state
    assert appointment.start is not None
    return Circumstances(
        status_of(patient),
        quiet_hours,
        circumstances.Appointment(appointment.status, appointment.start),
        inpatient=stay.admission_id is not None,
    )


async def start_attempt(
    session: CommandSession, nid: UUID, lease: dt.timedelta
) -> Notification | None:
    """The notification with its attempt recorded as started, or None if there is nothing to
    send (none due, or it was deferred, withdrawn or escalated instead)."""
    loaded = await session.load(NOTIFICATION, nid)
    if loaded.state.due_at is None:
        return None  # the read model's hint was stale: nothing left to do
    situation = await circumstances_of(session, loaded.state)
    events = model.start_attempt(loaded.state, session.ctx.now, lease, situation)
    if not events:
        return None
    await session.save(loaded, events)
    if not isinstance(events[-1], NotificationAttemptStarted):
        return None
    return functools.reduce(model.evolve, events, loaded.state)


async def still_to_send(session: CommandSession, nid: UUID, attempt: int) -> bool:
    """The last look right before the channel is called: whether `attempt` is still the one
    to send and the message still holds. If it no longer holds, what happens instead (a
    withdrawal, an escalation) is recorded here; if it was withdrawn or taken over since the
    attempt started, nothing is."""
    loaded = await session.load(NOTIFICATION, nid)
    if not model.in_flight(loaded.state, attempt):
        return False
    situation = await circumstances_of(session, loaded.state)
    instead = model.instead_of_sending(loaded.state, session.ctx.now, situation)
    if instead:
        await session.save(loaded, instead)
    return not instead


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
