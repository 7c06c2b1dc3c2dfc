"""Command handlers for prescriptions: load, decide, save (with the patient's medications).

Only a practitioner of the tenant prescribes or stops a prescription (the router admits the
DOCTOR role; the token's `sub` must name a registered practitioner), and only the visit's
doctor or a covering doctor (backend/visits/ownership.py). Issuing answers warnings
from the reference data (medications.yaml, read once, at the first prescription) against the
patient's active prescriptions of every visit and their recorded allergies.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import yaml

from backend.handling import CommandResult, CommandSession
from backend.kernel.events import DomainEvent
from backend.tenancy.model import PRACTITIONER, Practitioner
from backend.visits import prescriptions
from backend.visits.formulary import Formulary, allergy_warnings, prescribing_warnings
from backend.visits.model import VISIT
from backend.visits.ownership import Act, check
from backend.visits.patient_medications import (
    PATIENT_MEDICATIONS,
    active,
    medications_stream_id,
    start,
    stop,
)
from backend.visits.state import Visit

REFERENCE = Path(__file__).with_name("medications.yaml")

Stopping = Callable[[Visit, UUID, str, str, dt.datetime], list[DomainEvent]]


@functools.cache
def formulary() -> Formulary:
    return Formulary.from_data(yaml.safe_load(REFERENCE.read_text(encoding="utf-8")))


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
    prescriber = await practitioner_actor(session)
    visit = await session.load(VISIT, visit_id, conditional=True)
    check(Act.PRESCRIPTIONS, visit.state, prescriber, is_doctor=True)
    events = prescriptions.issue_prescription(
        visit.state, prescription_id, medication, dose, route, frequency, duration_days, prescriber
    )
    patient_id = visit.state.patient_id
    assert patient_id is not None
    now = session.ctx.now
    medications = await session.load(PATIENT_MEDICATIONS, medications_stream_id(patient_id))
    others = active(medications.state, now)
    warnings = prescribing_warnings(formulary(), medication, dose, frequency, others)
    warnings += allergy_warnings(formulary(), medication, medications.state.allergies)
    started = start(patient_id, prescription_id, visit_id, medication.strip(), duration_days, now)
    result = await session.save(visit, events, {medications.stream_id: (medications, started)})
    view = {**result.view, "prescription_id": prescription_id, "warnings": warnings}
    return dataclasses.replace(result, view=view)


async def discontinue(
    session: CommandSession, visit_id: UUID, prescription_id: UUID, reason: str
) -> CommandResult:
    return await _stop(session, visit_id, prescription_id, reason, prescriptions.discontinue)


async def cancel(
    session: CommandSession, visit_id: UUID, prescription_id: UUID, reason: str
) -> CommandResult:
    return await _stop(session, visit_id, prescription_id, reason, prescriptions.cancel)


async def _stop(
    session: CommandSession,
    visit_id: UUID,
    prescription_id: UUID,
    reason: str,
    decide: Stopping,
) -> CommandResult:
    """Also after sign-off: stopping a therapy is not a note edit."""
    by = await practitioner_actor(session)
    visit = await session.load(VISIT, visit_id, conditional=True)
    check(Act.PRESCRIPTIONS, visit.state, by, is_doctor=True)
    events = decide(visit.state, prescription_id, reason, by, session.ctx.now)
    patient_id = visit.state.patient_id
    assert patient_id is not None
    medications = await session.load(PATIENT_MEDICATIONS, medications_stream_id(patient_id))
    stopped = stop(medications.state, patient_id, prescription_id)
    return await session.save(visit, events, {medications.stream_id: (medications, stopped)})


async def practitioner_actor(session: CommandSession) -> str:
    """The caller's `sub`, once it is known to name a practitioner of the tenant."""
    actor = session.ctx.principal.actor
    try:
        practitioner_id = UUID(actor)
    except ValueError:
        practitioner = Practitioner()
    else:
        practitioner = (await session.load(PRACTITIONER, practitioner_id)).state
    prescriptions.check_prescriber(actor, practitioner)
    return actor
