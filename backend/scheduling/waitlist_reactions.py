"""A slot freed by an appointment that will not take place is offered to the waitlist."""

from __future__ import annotations

from uuid import UUID

from backend.eventstore import RecordedEvent
from backend.reactions.framework import Commands, reaction
from backend.scheduling import waitlist_service
from backend.scheduling.events import AppointmentCancelled, AppointmentMarkedNoShow


@reaction("waitlist-offers", AppointmentCancelled, AppointmentMarkedNoShow)
async def waitlist_offers(event: RecordedEvent, commands: Commands) -> None:
    """Idempotent: an offer's id derives from the freed appointment and the entry, and a slot on
    offer is not offered again. A no-show's slot has begun (a no-show is recorded after the
    start), so it is offered to nobody: only a slot still to come can be booked."""
    appointment_id = UUID(event.data["appointment_id"])
    await commands.run(lambda s: waitlist_service.offer_freed(s, appointment_id))
