"""What billing does when other contexts' events happen."""

from __future__ import annotations

from backend.billing import service
from backend.eventstore import RecordedEvent
from backend.kernel.events import revive
from backend.reactions.framework import Commands, reaction
from backend.visits.events import VisitSignedOff


@reaction("visit-invoice", VisitSignedOff)
async def visit_invoice(event: RecordedEvent, commands: Commands) -> None:
    """A signed-off visit with billable services gets its draft invoice, once: the invoice id
    derives from the visit's, so a redelivered sign-off finds it and records nothing. A visit
    without services gets none (the front desk may still draft one by hand)."""
    signed = revive(event)
    assert isinstance(signed, VisitSignedOff)
    if not signed.services:
        return
    services = [dict(s) for s in signed.services]
    await commands.run(
        lambda s: service.draft_invoice_for_visit(s, signed.visit_id, signed.patient_id, services)
    )
