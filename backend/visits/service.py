"""Command handlers of the visits context: load, decide, save."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from uuid import UUID

from backend.auth.principal import Role
from backend.handling import CommandResult, CommandSession, Loaded
from backend.kernel.clinical_time import occurred_at
from backend.kernel.errors import Invalid
from backend.kernel.events import DomainEvent
from backend.patients.model import PATIENT, require_chartable
from backend.scheduling.model import APPOINTMENT, note_visit
from backend.specialties.extension import stream_data_given, with_warnings
from backend.tenancy.model import PRACTITIONER, TENANT
from backend.visits import lab, model, prescriptions, vitals
from backend.visits.open_visits import OPEN_VISITS, closing, open_visits_stream_id, opening
from backend.visits.ownership import Act, check
from backend.visits.prescribing import practitioner_actor
from backend.visits.state import Visit
from backend.visits.vitals import Readings


async def open_visit(
    session: CommandSession,
    patient_id: UUID,
    practitioner_id: UUID,
    appointment_id: UUID | None,
    reason: str | None,
    walk_in_id: UUID,
    claimed_opened_at: dt.datetime | None = None,
    specialty_data: dict[str, Any] | None = None,
) -> CommandResult:
    """From an appointment the visit id is derived from it (a second open is VISIT_EXISTS) and
    the appointment records its visit; a walk-in takes `walk_in_id`. A visit may be opened in
    the system after it began (late charting): `claimed_opened_at` is then when it began. The
    patient's open visits are noted, with a warning when another one is open."""
    patient = await session.state_of(PATIENT, patient_id)
    if patient.id is None:
        raise Invalid("patient_id", "no such patient")
    if not (await session.load(PRACTITIONER, practitioner_id)).exists:
        raise Invalid("practitioner_id", "no such practitioner")
    visit_id = walk_in_id if appointment_id is None else model.visit_id_for(appointment_id)
    visit = await session.load(model.VISIT, visit_id, conditional=True)
    appointment = (
        None if appointment_id is None else await session.load(APPOINTMENT, appointment_id)
    )
    policy = (await session.state_of(TENANT, session.tenant_id)).policy
    opened_at = occurred_at(claimed_opened_at, session.ctx.now, policy.max_late, "opened_at")
    require_chartable(patient, opened_at)
    events = model.open_visit(
        visit.state,
        visit_id,
        patient_id,
        practitioner_id,
        appointment_id,
        None if appointment is None else appointment.state,
        reason,
        opened_at,
    )
    opened = model.VISIT.fold(events)
    specialty = await stream_data_given(session, "visit", opened, patient_id, specialty_data)
    open_visits = await session.load(OPEN_VISITS, open_visits_stream_id(patient_id))
    noted, warnings = opening(open_visits.state, patient_id, visit_id)
    others: dict[UUID, tuple[Loaded[Any], list[DomainEvent]]] = {
        open_visits.stream_id: (open_visits, noted)
    }
    if appointment is not None:
        others[appointment.stream_id] = (appointment, note_visit(appointment.state, visit_id))
    saved = await session.save(visit, events + specialty.events, others, occurred_at=opened_at)
    result = with_warnings(saved, specialty)
    return dataclasses.replace(
        result, view={**result.view, "warnings": [*warnings, *result.view["warnings"]]}
    )


async def draft_note(
    session: CommandSession, visit_id: UUID, sections: dict[str, str], reason: str | None = None
) -> CommandResult:
    visit = await _held(session, visit_id, Act.NOTE)
    author = session.ctx.principal.actor
    return await session.save(visit, model.draft_note(visit.state, sections, author, reason))


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
    """The visit leaves its patient's open visits in the same transaction."""
    visit = await _load(session, visit_id)
    principal = session.ctx.principal
    is_doctor = principal.has_any(frozenset({Role.DOCTOR}))
    events = model.sign_off(visit.state, principal.actor, is_doctor)
    patient_id = visit.state.patient_id
    assert patient_id is not None
    open_visits = await session.load(OPEN_VISITS, open_visits_stream_id(patient_id))
    closed = closing(open_visits.state, patient_id, visit_id)
    return await session.save(visit, events, {open_visits.stream_id: (open_visits, closed)})


async def take_cover(session: CommandSession, visit_id: UUID, reason: str) -> CommandResult:
    doctor = await practitioner_actor(session)
    visit = await _load(session, visit_id)
    return await session.save(visit, model.take_cover(visit.state, doctor, reason, session.ctx.now))


async def add_addendum(session: CommandSession, visit_id: UUID, text: str) -> CommandResult:
    visit = await _load(session, visit_id)
    if visit.state.patient_id is not None:
        require_chartable(await session.state_of(PATIENT, visit.state.patient_id))
    events = model.add_addendum(visit.state, text, session.ctx.principal.actor, session.ctx.now)
    return await session.save(visit, events)


async def record_vitals(
    session: CommandSession,
    visit_id: UUID,
    reading_id: UUID,
    claimed: dt.datetime | None,
    readings: Readings,
) -> CommandResult:
    """Vitals may be charted late: the event's occurred_at is when they were taken."""
    visit = await _load(session, visit_id)
    policy = (await session.state_of(TENANT, session.tenant_id)).policy
    taken_at = occurred_at(claimed, session.ctx.now, policy.max_late)
    actor = session.ctx.principal.actor
    events = vitals.record_vitals(visit.state, reading_id, taken_at, readings, actor)
    result = await session.save(visit, events, occurred_at=taken_at)
    return _with(result, reading_id=reading_id)


async def enter_vitals_in_error(
    session: CommandSession, visit_id: UUID, reading_id: UUID, reason: str
) -> CommandResult:
    """The mark's valid time is the reading's: as known now, it was never true."""
    visit = await _load(session, visit_id)
    principal = session.ctx.principal
    is_doctor = principal.has_any(frozenset({Role.DOCTOR}))
    events = vitals.enter_in_error(
        visit.state, reading_id, reason, principal.actor, is_doctor, session.ctx.now
    )
    valid_time = vitals.reading_valid_time(visit.state, reading_id)
    return await session.save(visit, events, occurred_at=valid_time)


async def order_lab(
    session: CommandSession, visit_id: UUID, order_id: UUID, test_code: str, test_name: str
) -> CommandResult:
    visit = await _held(session, visit_id, Act.LAB_ORDERS)
    events = lab.order_lab(visit.state, order_id, test_code, test_name, session.ctx.now)
    return _with(await session.save(visit, events), order_id=order_id)


async def collect_specimen(
    session: CommandSession, visit_id: UUID, order_id: UUID, claimed: dt.datetime | None
) -> CommandResult:
    """A specimen may be charted late, like vitals: occurred_at is when it was collected."""
    visit = await _load(session, visit_id)
    policy = (await session.state_of(TENANT, session.tenant_id)).policy
    collected_at = occurred_at(claimed, session.ctx.now, policy.max_late, "collected_at")
    events = lab.collect_specimen(visit.state, order_id, collected_at)
    return await session.save(visit, events, occurred_at=collected_at)


async def report_result(
    session: CommandSession, visit_id: UUID, order_id: UUID, result: lab.LabResult
) -> CommandResult:
    visit = await _load(session, visit_id)
    actor = session.ctx.principal.actor
    events = lab.report_result(visit.state, order_id, result, actor, session.ctx.now)
    return await session.save(visit, events)


async def amend_result(
    session: CommandSession, visit_id: UUID, order_id: UUID, result: lab.LabResult, reason: str
) -> CommandResult:
    """The amendment's valid time is the amended report's: the corrected value is what was
    true from then on, as known now; `as_of` before the amendment still shows the old one."""
    visit = await _load(session, visit_id)
    actor = session.ctx.principal.actor
    events = lab.amend_result(visit.state, order_id, result, reason, actor, session.ctx.now)
    valid_time = lab.result_valid_time(visit.state, order_id)
    return await session.save(visit, events, occurred_at=valid_time)


async def release_result(session: CommandSession, visit_id: UUID, order_id: UUID) -> CommandResult:
    visit = await _held(session, visit_id, Act.RELEASE_RESULTS)
    actor = session.ctx.principal.actor
    events = lab.release_result(visit.state, order_id, actor, session.ctx.now)
    return await session.save(visit, events)


async def dispense(
    session: CommandSession, visit_id: UUID, prescription_id: UUID, note: str | None
) -> CommandResult:
    visit = await _load(session, visit_id)
    actor = session.ctx.principal.actor
    events = prescriptions.dispense(visit.state, prescription_id, actor, note, session.ctx.now)
    return await session.save(visit, events)


async def _load(session: CommandSession, visit_id: UUID) -> Loaded[Visit]:
    return await session.load(model.VISIT, visit_id, conditional=True)


async def _held(session: CommandSession, visit_id: UUID, act: Act) -> Loaded[Visit]:
    """The visit, once the caller is known to hold it for `act` (ownership.POLICY)."""
    visit = await _load(session, visit_id)
    principal = session.ctx.principal
    is_doctor = principal.has_any(frozenset({Role.DOCTOR}))
    check(act, visit.state, principal.actor, is_doctor)
    return visit


def _with(result: CommandResult, **ids: UUID) -> CommandResult:
    """The response also names what the command created inside the visit."""
    return dataclasses.replace(result, view={**result.view, **ids})
