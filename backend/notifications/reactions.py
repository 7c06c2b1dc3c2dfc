"""What the notifications context does when other contexts' events happen."""

from __future__ import annotations

from uuid import UUID

from backend.billing.events import PaymentCaptured
from backend.eventstore import RecordedEvent
from backend.kernel.events import revive
from backend.notifications import service
from backend.reactions.framework import Commands, reaction
from backend.scheduling.events import (
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentConfirmed,
    AppointmentMarkedNoShow,
    PatientCheckedIn,
)
from backend.scheduling.waitlist import WaitlistSlotOffered

CONFIRMED = AppointmentConfirmed.type_name()


@reaction(
    "appointment-reminder",
    AppointmentConfirmed,
    AppointmentCancelled,
    PatientCheckedIn,
    AppointmentCompleted,
    AppointmentMarkedNoShow,
)
async def appointment_reminder(event: RecordedEvent, commands: Commands) -> None:
    """The reminder follows its appointment: queued when it is confirmed, withdrawn when it
    ends. One reaction handles both, in the store's order, so a withdrawal can never be handled
    before the queueing it withdraws."""
    appointment_id = UUID(event.data["appointment_id"])
    if event.event_type == CONFIRMED:
        await commands.run(
            lambda s: service.queue_appointment_reminder(s, event.event_id, appointment_id)
        )
    else:
        await commands.run(lambda s: service.withdraw_appointment_reminder(s, appointment_id))


@reaction("payment-receipt", PaymentCaptured)
async def payment_receipt(event: RecordedEvent, commands: Commands) -> None:
    """A refused payment (PaymentRefused) gets no receipt; a captured one exactly one, because
    the webhook records one PaymentCaptured per provider payment and the notification's id
    derives from that event's id."""
    captured = revive(event)
    assert isinstance(captured, PaymentCaptured)
    await commands.run(lambda s: service.queue_payment_receipt(s, event.event_id, captured))


@reaction("waitlist-offer-message", WaitlistSlotOffered)
async def waitlist_offer_message(event: RecordedEvent, commands: Commands) -> None:
    """One message per offer: the notification's id derives from the offer's event."""
    offered = revive(event)
    assert isinstance(offered, WaitlistSlotOffered)
    await commands.run(lambda s: service.queue_waitlist_offer(s, event.event_id, offered))
