"""A slot freed by an appointment that will not take place, or by a hold that ran out, is
offered to the waitlist."""

from __future__ import annotations

from uuid import UUID

from backend.eventstore import RecordedEvent
from backend.reactions.framework import Commands, reaction
from backend.scheduling import waitlist_service
from backend.scheduling.events import (
    AppointmentCancelled,
    AppointmentMarkedNoShow,
    SlotHoldExpired,
)


@reaction("waitlist-offers", AppointmentCancelled, AppointmentMarkedNoShow, SlotHoldExpired)
async def waitlist_offers(event: RecordedEvent, commands: Commands) -> None:
    """Idempotent: an offer's id derives from what freed the slot (the appointment, the hold)
    and the entry, and a slot on offer is not offered again. A no-show's slot has begun (a
    no-show is recorded after the start), so it is offered to nobody: only a slot still to come
    can be booked. A hold confirmed into a booking never expires (SlotHoldExpired follows only a
    hold still held), so its slot is never offered."""
    if event.event_type == SlotHoldExpired.type_name():
        hold_id = UUID(event.data["hold_id"])
        await commands.run(lambda s: waitlist_service.offer_expired_hold(s, hold_id))
        return
    appointment_id = UUID(event.data["appointment_id"])
    await commands.run(lambda s: waitlist_service.offer_freed(s, appointment_id))
