"""What the notifications context does when other contexts' events happen."""

from __future__ import annotations

from uuid import UUID

from backend.eventstore import RecordedEvent
from backend.notifications import service
from backend.reactions.framework import Commands, reaction
from backend.scheduling.events import AppointmentConfirmed


@reaction("appointment-reminder", AppointmentConfirmed)
async def appointment_reminder(event: RecordedEvent, commands: Commands) -> None:
    appointment_id = UUID(event.data["appointment_id"])
    await commands.run(
        lambda s: service.queue_appointment_reminder(s, event.event_id, appointment_id)
    )
