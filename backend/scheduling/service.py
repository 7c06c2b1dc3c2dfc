"""Command handlers of the scheduling context."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from backend.auth.principal import STAFF
from backend.handling import CommandResult, CommandSession, Loaded
from backend.kernel.errors import Invalid, NotFound
from backend.kernel.events import DomainEvent
from backend.patients.model import PATIENT
from backend.scheduling import model
from backend.scheduling.schedule import SCHEDULE, day_stream_id, days_touched
from backend.tenancy.model import PRACTITIONER, TENANT


async def request_appointment(
    session: CommandSession,
    appointment_id: UUID,
    patient_id: UUID,
    practitioner_id: UUID,
    start: dt.datetime,
    end: dt.datetime,
    reason: str | None,
) -> CommandResult:
    patient = await session.load(PATIENT, patient_id)
    if not patient.exists:
        raise Invalid("patient_id", "no such patient")
    if patient.state.erased:
        raise Invalid("patient_id", "the patient's personal data has been erased")
    if not (await session.load(PRACTITIONER, practitioner_id)).exists:
        raise Invalid("practitioner_id", "no such practitioner")
    appointment = await session.load(model.APPOINTMENT, appointment_id)
    days = (
        {
            day_id: await session.load(SCHEDULE, day_id)
            for day_id in (day_stream_id(practitioner_id, d) for d in days_touched(start, end))
        }
        if end > start
        else {}
    )
    decided = model.request(
        appointment.state,
        appointment_id,
        patient_id,
        practitioner_id,
        start,
        end,
        reason,
        {day_id: loaded.state for day_id, loaded in days.items()},
    )
    others = {day_id: (days[day_id], decided[day_id]) for day_id in days}
    return await session.save(appointment, decided[appointment_id], others)


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
    if not is_staff and str(appointment.state.patient_id) != principal.actor:
        raise NotFound("appointment not found")  # a patient sees only their own appointments
    tenant = (await session.load(TENANT, session.tenant_id)).state
    window = model.CheckinWindow(
        dt.timedelta(minutes=tenant.policy.checkin_opens_before_min),
        dt.timedelta(minutes=tenant.policy.checkin_closes_after_min),
    )
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
    """Record an event after which the appointment no longer holds its slot, and free it."""
    state = appointment.state
    released = model.release(state)
    others: dict[UUID, tuple[Loaded[Any], list[DomainEvent]]] = {}
    for day in days_touched(state.start, state.end):
        day_id = day_stream_id(state.practitioner_id, day)
        others[day_id] = (await session.load(SCHEDULE, day_id), [released])
    return await session.save(appointment, events, others)
