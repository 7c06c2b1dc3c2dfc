"""What the notifications context does when other contexts' events happen."""

from __future__ import annotations

from uuid import UUID

from backend.billing.events import PaymentCaptured
from backend.eventstore import RecordedEvent
from backend.kernel.events import revive
from backend.notifications import service
from backend.reactions.framework import Commands, reaction
from backend.scheduling.events import AppointmentConfirmed


@reaction("appointment-reminder", AppointmentConfirmed)
async def appointment_reminder(event: RecordedEvent, commands: Commands) -> None:
    appointment_id = UUID(event.data["appointment_id"])
    await commands.run(
        lambda s: service.queue_appointment_reminder(s, event.event_id, appointment_id)
    )


@reaction("payment-receipt", PaymentCaptured)
async def payment_receipt(event: RecordedEvent, commands: Commands) -> None:
    """A refused payment (PaymentRefused) gets no receipt; a captured one exactly one, because
    the webhook records one PaymentCaptured per provider payment and the notification's id
    derives from that event's id."""
    captured = revive(event)
    assert isinstance(captured, PaymentCaptured)
    await commands.run(lambda s: service.queue_payment_receipt(s, event.event_id, captured))
