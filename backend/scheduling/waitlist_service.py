"""Command handlers of the waitlist (backend/scheduling/waitlist.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from backend.auth.principal import may_read_patient
from backend.handling import CommandResult, CommandSession
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.patients.model import PATIENT, require_active
from backend.scheduling import model, service, waitlist
from backend.scheduling.holds import SLOT_HOLD
from backend.scheduling.schedule import SCHEDULE, day_stream_id, days_touched
from backend.scheduling.waitlist import WAITLIST, waitlist_stream_id
from backend.tenancy.model import PRACTITIONER, TENANT
from backend.tenancy.policy import TenantPolicy


async def _policy(session: CommandSession) -> TenantPolicy:
    return (await session.state_of(TENANT, session.tenant_id)).policy


def _window(policy: TenantPolicy) -> dt.timedelta:
    return dt.timedelta(minutes=policy.waitlist_offer_minutes)


async def join(
    session: CommandSession,
    entry_id: UUID,
    patient_id: UUID,
    practitioner_id: UUID,
    from_date: dt.date,
    to_date: dt.date,
) -> CommandResult:
    require_active(await session.state_of(PATIENT, patient_id))
    if not (await session.load(PRACTITIONER, practitioner_id)).exists:
        raise Invalid("practitioner_id", "no such practitioner")
    today = session.ctx.now.astimezone(ZoneInfo((await _policy(session)).timezone)).date()
    loaded = await session.load(WAITLIST, waitlist_stream_id(practitioner_id))
    events = waitlist.join(
        loaded.state, entry_id, patient_id, practitioner_id, from_date, to_date, today
    )
    result = await session.save(loaded, events)
    return dataclasses.replace(
        result, id=entry_id, view=_entry_view(practitioner_id, entry_id, result.view)
    )


async def leave(session: CommandSession, practitioner_id: UUID, entry_id: UUID) -> CommandResult:
    loaded = await session.load(WAITLIST, waitlist_stream_id(practitioner_id))
    window = _window(await _policy(session))
    result = await session.save(
        loaded, waitlist.leave(loaded.state, entry_id, session.ctx.now, window)
    )
    return dataclasses.replace(
        result, id=entry_id, view=_entry_view(practitioner_id, entry_id, result.view)
    )


async def offer_freed(session: CommandSession, appointment_id: UUID) -> CommandResult | None:
    """The slot of an appointment that ended without taking place (cancelled, no-show), offered
    to the first in line; None when nothing is offered."""
    appointment = (await session.load(model.APPOINTMENT, appointment_id)).state
    if appointment.practitioner_id is None or appointment.start is None or appointment.end is None:
        return None
    return await _offer(
        session, appointment.practitioner_id, appointment.start, appointment.end, appointment_id
    )


async def offer_expired_hold(session: CommandSession, hold_id: UUID) -> CommandResult | None:
    """The time of a hold that ran out unconfirmed, offered to the first in line like a
    cancelled appointment's (the hold is what freed it); None when nothing is offered. A hold
    confirmed into a booking is not expired: nothing is offered."""
    hold = (await session.load(SLOT_HOLD, hold_id)).state
    if hold.status != "expired" or hold.practitioner_id is None:
        return None
    assert hold.start is not None and hold.end is not None
    return await _offer(session, hold.practitioner_id, hold.start, hold.end, hold_id)


async def _offer(
    session: CommandSession,
    practitioner_id: UUID,
    start: dt.datetime,
    end: dt.datetime,
    freed_by: UUID,
) -> CommandResult | None:
    """The freed time offered to the first in line, if it is still free on the practitioner's
    day schedules (booked or held again since it was freed, it is nobody's to offer)."""
    loaded = await session.load(WAITLIST, waitlist_stream_id(practitioner_id))
    if not loaded.exists:
        return None
    days = {
        day_id: (await session.load(SCHEDULE, day_id)).state
        for day_id in (day_stream_id(practitioner_id, d) for d in days_touched(start, end))
    }
    try:
        model.require_free(days, start, end, session.ctx.now)
    except Conflict:
        return None
    policy = await _policy(session)
    day = start.astimezone(ZoneInfo(policy.timezone)).date()
    slot = waitlist.Slot(start, end, freed_by, day)
    events = waitlist.offer(loaded.state, slot, session.ctx.now, _window(policy))
    return await session.save(loaded, events) if events else None


async def expire(session: CommandSession, practitioner_id: UUID, offer_id: UUID) -> None:
    loaded = await session.load(WAITLIST, waitlist_stream_id(practitioner_id))
    window = _window(await _policy(session))
    events = waitlist.expire(loaded.state, offer_id, session.ctx.now, window)
    if events:
        await session.save(loaded, events)


async def accept(
    session: CommandSession, practitioner_id: UUID, offer_id: UUID, appointment_id: UUID
) -> CommandResult:
    """Books the offered slot for its patient, confirmed at once (the patient accepted a
    concrete slot: AppointmentConfirmed is recorded with the booking, and what follows a
    confirmation, the reminder, follows it), and records the offer accepted, in one
    transaction. Every rule of a booking applies: a slot booked or held meanwhile is refused
    (SLOT_TAKEN, SLOT_HELD) with a detail saying the offered slot is no longer free. A patient
    accepts only their own offers."""
    loaded = await session.load(WAITLIST, waitlist_stream_id(practitioner_id))
    offered = waitlist.accept(loaded.state, offer_id, appointment_id, session.ctx.now)
    if not may_read_patient(session.ctx.principal, offered.patient_id):
        raise NotFound(f"offer {offer_id} not found")
    booking = model.Booking(
        appointment_id,
        offered.patient_id,
        practitioner_id,
        offered.start,
        offered.end,
        "from the waitlist",
        confirmed=True,
    )
    try:
        booked = await service.request_appointment(session, booking)
    except Conflict as e:
        if e.code not in ("SLOT_TAKEN", "SLOT_HELD"):
            raise
        raise Conflict(e.code, f"the offered slot is no longer free: {e.detail}") from e
    await session.save(loaded, [waitlist.WaitlistOfferAccepted(offer_id, appointment_id)])
    return booked


def _entry_view(practitioner_id: UUID, entry_id: UUID, view: dict[str, Any]) -> dict[str, Any]:
    entry = next(e for e in view["entries"] if e["id"] == entry_id)
    return {**entry, "practitioner_id": practitioner_id}
