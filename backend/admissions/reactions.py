"""What follows from an admission's events elsewhere: a death at discharge is recorded on the
patient's own stream, where booking, admitting and messaging look for it."""

from __future__ import annotations

from backend.admissions import service
from backend.admissions.events import PatientDischarged
from backend.eventstore import RecordedEvent
from backend.kernel.events import revive
from backend.reactions.framework import Commands, reaction


@reaction("patient-death", PatientDischarged)
async def death_at_discharge(event: RecordedEvent, commands: Commands) -> None:
    """A discharge with disposition deceased records the death on the patient's stream."""
    discharged = revive(event)
    assert isinstance(discharged, PatientDischarged)
    if discharged.disposition != "deceased":
        return
    await commands.run(
        lambda s: service.record_death_at_discharge(
            s, discharged.admission_id, discharged.discharged_at
        )
    )
