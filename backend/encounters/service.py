"""Command handlers of the visits context: load, decide, save."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from uuid import UUID

from backend.auth.principal import Role
from backend.encounters import model
from backend.encounters.vitals import Readings
from backend.handling import CommandResult, CommandSession, Loaded
from backend.kernel.clinical_time import occurred_at
from backend.kernel.errors import Invalid
from backend.patients.model import PATIENT
from backend.plugins.service import stream_data_given, with_warnings
from backend.scheduling.model import APPOINTMENT
from backend.tenancy.model import PRACTITIONER
from backend.tenancy.service import policy_of


async def open_visit(
    session: CommandSession,
    patient_id: UUID,
    practitioner_id: UUID,
    appointment_id: UUID | None,
    reason: str | None,
    walk_in_id: UUID,
    specialty_data: dict[str, Any] | None = None,
) -> CommandResult:
    """From an appointment the visit id is derived from it (a second open is VISIT_EXISTS);
    a walk-in takes `walk_in_id`."""
    if not (await session.load(PATIENT, patient_id)).exists:
        raise Invalid("patient_id", "no such patient")
    if not (await session.load(PRACTITIONER, practitioner_id)).exists:
        raise Invalid("practitioner_id", "no such practitioner")
    visit_id = walk_in_id if appointment_id is None else model.visit_id_for(appointment_id)
    visit = await session.load(model.VISIT, visit_id, conditional=True)
    appointment = (
        None if appointment_id is None else (await session.load(APPOINTMENT, appointment_id)).state
    )
    events = model.open_visit(
        visit.state,
        visit_id,
        patient_id,
        practitioner_id,
        appointment_id,
        appointment,
        reason,
        session.ctx.now,
    )
    opened = model.VISIT.fold(events)
    specialty = await stream_data_given(session, "visit", opened, patient_id, specialty_data)
    return with_warnings(await session.save(visit, events + specialty.events), specialty)


async def draft_note(
    session: CommandSession, visit_id: UUID, sections: dict[str, str]
) -> CommandResult:
    visit = await _load(session, visit_id)
    return await session.save(visit, model.draft_note(visit.state, sections))


async def add_service(
    session: CommandSession,
    visit_id: UUID,
    code: str,
    description: str,
    quantity: int,
    unit_price: str,
) -> CommandResult:
    visit = await _load(session, visit_id)
    events = model.add_service(visit.state, code, description, quantity, unit_price)
    return await session.save(visit, events)


async def sign_off(session: CommandSession, visit_id: UUID) -> CommandResult:
    visit = await _load(session, visit_id)
    principal = session.ctx.principal
    is_doctor = principal.has_any(frozenset({Role.DOCTOR}))
    return await session.save(visit, model.sign_off(visit.state, principal.actor, is_doctor))


async def add_addendum(session: CommandSession, visit_id: UUID, text: str) -> CommandResult:
    visit = await _load(session, visit_id)
    events = model.add_addendum(visit.state, text, session.ctx.principal.actor, session.ctx.now)
    return await session.save(visit, events)


async def record_vitals(
    session: CommandSession, visit_id: UUID, claimed: dt.datetime | None, readings: Readings
) -> CommandResult:
    """Vitals may be charted late: the event's occurred_at is when they were taken."""
    visit = await _load(session, visit_id)
    policy = await policy_of(session)
    taken_at = occurred_at(claimed, session.ctx.now, policy.max_late)
    events = model.record_vitals(visit.state, taken_at, readings)
    return await session.save(visit, events, occurred_at=taken_at)


async def issue_prescription(
    session: CommandSession,
    visit_id: UUID,
    prescription_id: UUID,
    medication: str,
    dose: str,
    route: str,
    frequency: str,
    duration_days: int | None,
) -> CommandResult:
    visit = await _load(session, visit_id)
    events = model.issue_prescription(
        visit.state,
        prescription_id,
        medication,
        dose,
        route,
        frequency,
        duration_days,
        session.ctx.principal.actor,
    )
    return _with(await session.save(visit, events), prescription_id=prescription_id)


async def order_lab(
    session: CommandSession, visit_id: UUID, order_id: UUID, test_code: str, test_name: str
) -> CommandResult:
    visit = await _load(session, visit_id)
    events = model.order_lab(visit.state, order_id, test_code, test_name, session.ctx.now)
    return _with(await session.save(visit, events), order_id=order_id)


async def collect_specimen(
    session: CommandSession, visit_id: UUID, order_id: UUID
) -> CommandResult:
    visit = await _load(session, visit_id)
    return await session.save(visit, model.collect_specimen(visit.state, order_id, session.ctx.now))


async def report_result(
    session: CommandSession,
    visit_id: UUID,
    order_id: UUID,
    value: str,
    unit: str | None,
    reference_range: str | None,
    abnormal: bool,
    comment: str | None,
) -> CommandResult:
    visit = await _load(session, visit_id)
    events = model.report_result(
        visit.state, order_id, value, unit, reference_range, abnormal, comment, session.ctx.now
    )
    return await session.save(visit, events)


async def _load(session: CommandSession, visit_id: UUID) -> Loaded[model.Visit]:
    return await session.load(model.VISIT, visit_id, conditional=True)


def _with(result: CommandResult, **ids: UUID) -> CommandResult:
    """The response also names what the command created inside the visit."""
    return dataclasses.replace(result, view={**result.view, **ids})
