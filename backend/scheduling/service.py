"""Command handlers of the scheduling context."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from backend.auth.principal import STAFF, Principal
from backend.handling import CommandResult, CommandSession, Loaded
from backend.kernel.errors import Invalid, NotFound
from backend.kernel.events import DomainEvent
from backend.patients.model import PATIENT, require_active
from backend.scheduling import holds, hours, model
from backend.scheduling.holds import SLOT_HOLD
from backend.scheduling.hours import WORKING_HOURS, hours_stream_id
from backend.scheduling.schedule import (
    PATIENT_SCHEDULE,
    SCHEDULE,
    day_stream_id,
    days_touched,
    patient_day_stream_id,
)
from backend.tenancy.model import PRACTITIONER, TENANT


async def request_appointment(
    session: CommandSession,
    booking: model.Booking,
    also: dict[UUID, tuple[Loaded[Any], list[DomainEvent]]] | None = None,
) -> CommandResult:
    """`booking.appointment_id` is new (the route makes it). The patient's and the
    practitioner's day schedules the time touches are loaded and appended to with the
    appointment, each at the version it was loaded at: two bookings racing for the
    practitioner's time, or for the patient's, conflict on one of them, and the one decided
    again sees the other.

    The patient's days are read first: each load sees what had committed when it ran, and a
    booking commits to both kinds of stream at once, so a clash with the same practitioner seen
    on the patient's days is seen on the practitioner's too, and answered SLOT_TAKEN (checked
    first) whatever the moment the other booking committed.

    The practitioner's working hours (hours.py) are read, not appended to. `also`: other
    streams' events committed with the booking (the hold it confirms)."""
    start, end = booking.start, booking.end
    require_active(await session.state_of(PATIENT, booking.patient_id))
    if not (await session.load(PRACTITIONER, booking.practitioner_id)).exists:
        raise Invalid("practitioner_id", "no such practitioner")
    appointment = session.new(model.APPOINTMENT, booking.appointment_id)
    touched = days_touched(start, end) if end > start else []
    patient_days = {
        day_id: await session.load(PATIENT_SCHEDULE, day_id)
        for day_id in (patient_day_stream_id(booking.patient_id, d) for d in touched)
    }
    days = {
        day_id: await session.load(SCHEDULE, day_id)
        for day_id in (day_stream_id(booking.practitioner_id, d) for d in touched)
    }
    policy = (await session.state_of(TENANT, session.tenant_id)).policy
    typed_warnings = model.typed_times(booking, ZoneInfo(policy.timezone))
    booked = model.request(
        appointment.state,
        booking,
        session.ctx.now,
        {day_id: loaded.state for day_id, loaded in days.items()},
        {day_id: loaded.state for day_id, loaded in patient_days.items()},
        policy.patient_double_booking,
    )
    working = await session.state_of(WORKING_HOURS, hours_stream_id(booking.practitioner_id))
    staff = session.ctx.principal.has_any(STAFF)  # a partner's key never overrides the hours
    override = hours.check_booking(
        working,
        ZoneInfo(policy.timezone),
        booking.appointment_id,
        start,
        end,
        booking.hours_override_reason if staff else None,
    )
    schedules = {**days, **patient_days}
    others = {day_id: (schedules[day_id], booked.events[day_id]) for day_id in schedules}
    own = booked.events[booking.appointment_id] + override
    result = await session.save(appointment, own, {**others, **(also or {})})
    warnings = typed_warnings + booked.warnings
    return dataclasses.replace(result, view={**result.view, "warnings": warnings})


async def confirm(session: CommandSession, appointment_id: UUID) -> CommandResult:
    appointment = await session.load(model.APPOINTMENT, appointment_id, conditional=True)
    return await session.save(appointment, model.confirm(appointment.state))


async def cancel(session: CommandSession, appointment_id: UUID, reason: str) -> CommandResult:
    appointment = await session.load(model.APPOINTMENT, appointment_id, conditional=True)
    return await _ending(session, appointment, model.cancel(appointment.state, reason))


async def check_in(
    session: CommandSession, appointment_id: UUID, override_reason: str | None
) -> CommandResult:
    appointment = await session.load(model.APPOINTMENT, appointment_id, conditional=True)
    principal = session.ctx.principal
    is_staff = principal.has_any(STAFF)
    for_the_clinic = is_staff or principal.key_id is not None  # a partner's key (a kiosk)
    if not for_the_clinic and str(appointment.state.patient_id) != principal.actor:
        raise NotFound("appointment not found")  # a patient sees only their own appointments
    tenant = (await session.load(TENANT, session.tenant_id)).state
    window = model.CheckinWindow.of(tenant.policy)
    events = model.check_in(appointment.state, session.ctx.now, window, override_reason, is_staff)
    return await session.save(appointment, events)


async def complete(session: CommandSession, appointment_id: UUID) -> CommandResult:
    appointment = await session.load(model.APPOINTMENT, appointment_id, conditional=True)
    return await _ending(session, appointment, model.complete(appointment.state))


async def mark_no_show(session: CommandSession, appointment_id: UUID) -> CommandResult:
    appointment = await session.load(model.APPOINTMENT, appointment_id, conditional=True)
    events = model.mark_no_show(appointment.state, session.ctx.now)
    return await _ending(session, appointment, events)


async def _ending(
    session: CommandSession, appointment: Loaded[Any], events: list[DomainEvent]
) -> CommandResult:
    """Record an event after which the appointment no longer holds its slot, and free it, and
    the patient's time."""
    state = appointment.state
    released = model.release(state)
    others: dict[UUID, tuple[Loaded[Any], list[DomainEvent]]] = {}
    for day in days_touched(state.start, state.end):
        day_id = day_stream_id(state.practitioner_id, day)
        others[day_id] = (await session.load(SCHEDULE, day_id), [released])
        patient_day = await session.load(
            PATIENT_SCHEDULE, patient_day_stream_id(state.patient_id, day)
        )
        others[patient_day.stream_id] = (patient_day, model.free_patient(state, patient_day.state))
    return await session.save(appointment, events, others)


async def auto_no_show(session: CommandSession, appointment_id: UUID) -> CommandResult | None:
    """The scheduling timers' no-show (timers.py): recorded once the tenant's grace after the
    start has passed without a check-in; None when it is not (or no longer) due."""
    appointment = await session.load(model.APPOINTMENT, appointment_id)
    policy = (await session.state_of(TENANT, session.tenant_id)).policy
    if policy.no_show_after_min is None:
        return None
    grace = dt.timedelta(minutes=policy.no_show_after_min)
    events = model.no_show_due(appointment.state, session.ctx.now, grace)
    return await _ending(session, appointment, events) if events else None


async def set_working_hours(
    session: CommandSession, practitioner_id: UUID, weekly: list[hours.Period], slot_minutes: int
) -> CommandResult:
    await _practitioner(session, practitioner_id)
    loaded = await session.load(WORKING_HOURS, hours_stream_id(practitioner_id))
    return await session.save(loaded, hours.set_hours(practitioner_id, weekly, slot_minutes))


async def add_time_off(
    session: CommandSession, practitioner_id: UUID, time_off_id: UUID, off: hours.TimeOff
) -> CommandResult:
    await _practitioner(session, practitioner_id)
    loaded = await session.load(WORKING_HOURS, hours_stream_id(practitioner_id))
    return await session.save(loaded, hours.add_time_off(practitioner_id, time_off_id, off))


async def remove_time_off(
    session: CommandSession, practitioner_id: UUID, time_off_id: UUID
) -> CommandResult:
    loaded = await session.load(WORKING_HOURS, hours_stream_id(practitioner_id))
    events = hours.remove_time_off(loaded.state, practitioner_id, time_off_id)
    return await session.save(loaded, events)


async def place_hold(session: CommandSession, new: holds.NewHold) -> CommandResult:
    """Takes the time on the practitioner's day schedules (like a booking) for the tenant's
    `hold_minutes`; inside working hours only (staff wanting other times book directly)."""
    if new.patient_id is not None:
        require_active(await session.state_of(PATIENT, new.patient_id))
    await _practitioner(session, new.practitioner_id)
    policy = (await session.state_of(TENANT, session.tenant_id)).policy
    if new.end > new.start:
        working = await session.state_of(WORKING_HOURS, hours_stream_id(new.practitioner_id))
        hours.check_booking(
            working, ZoneInfo(policy.timezone), new.hold_id, new.start, new.end, None
        )
    touched = days_touched(new.start, new.end) if new.end > new.start else []
    days = {
        day_id: await session.load(SCHEDULE, day_id)
        for day_id in (day_stream_id(new.practitioner_id, d) for d in touched)
    }
    lasts = dt.timedelta(minutes=policy.hold_minutes)
    events = holds.place(new, session.ctx.now, lasts, {k: v.state for k, v in days.items()})
    hold = session.new(SLOT_HOLD, new.hold_id)
    others = {day_id: (loaded, events[day_id]) for day_id, loaded in days.items()}
    return await session.save(hold, events[new.hold_id], others)


async def confirm_hold(
    session: CommandSession,
    hold_id: UUID,
    appointment_id: UUID,
    patient_id: UUID | None,
    reason: str | None,
) -> CommandResult:
    """The hold becomes the appointment `appointment_id`, booked under the normal rules (the
    hold's own time aside), in one transaction with the hold's confirmation. A patient confirms
    only a hold for themselves."""
    hold = await session.load(SLOT_HOLD, hold_id, conditional=True)
    state = hold.state
    principal = session.ctx.principal
    if state.id is not None and not _may_use_hold(principal, state.patient_id):
        raise NotFound("hold not found")
    hold_events = holds.confirm(state, session.ctx.now, appointment_id)
    if state.patient_id is not None and patient_id not in (None, state.patient_id):
        raise Invalid("patient_id", "the hold is for another patient")
    patient = state.patient_id or patient_id
    if patient is None:
        raise Invalid("patient_id", "the hold names no patient: give one")
    if not _may_use_hold(principal, patient):
        raise Invalid("patient_id", "a patient books for themselves")
    assert state.practitioner_id is not None and state.start is not None and state.end is not None
    booking = model.Booking(
        appointment_id,
        patient,
        state.practitioner_id,
        state.start,
        state.end,
        reason,
        hold_id=hold_id,
    )
    return await request_appointment(session, booking, {hold_id: (hold, hold_events)})


async def expire_hold(session: CommandSession, hold_id: UUID) -> CommandResult | None:
    """The timers' expiry of a hold whose time ran out (timers.py): the hold's SlotHoldExpired
    and the day schedules' SlotHoldReleased; None when it is not (or no longer) due."""
    hold = await session.load(SLOT_HOLD, hold_id)
    events = holds.expire(hold.state, session.ctx.now)
    if not events:
        return None
    state = hold.state
    assert state.practitioner_id is not None and state.start is not None and state.end is not None
    others: dict[UUID, tuple[Loaded[Any], list[DomainEvent]]] = {}
    for day in days_touched(state.start, state.end):
        loaded = await session.load(SCHEDULE, day_stream_id(state.practitioner_id, day))
        held = hold_id in loaded.state.holds
        others[loaded.stream_id] = (loaded, [holds.release(state)] if held else [])
    return await session.save(hold, events, others)


def _may_use_hold(principal: Principal, hold_patient: UUID | None) -> bool:
    """Staff and partners' keys use any hold; a patient only one for themselves (or for
    nobody yet)."""
    if principal.has_any(STAFF) or principal.key_id is not None:
        return True
    return hold_patient is None or str(hold_patient) == principal.actor


async def _practitioner(session: CommandSession, practitioner_id: UUID) -> None:
    if not (await session.load(PRACTITIONER, practitioner_id)).exists:
        raise Invalid("practitioner_id", "no such practitioner")
