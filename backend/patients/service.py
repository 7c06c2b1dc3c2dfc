"""Command handlers of the patients context."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.api.idempotency import forget_responses_about
from backend.eventstore.snapshots import forget_snapshots
from backend.handling import CommandResult, CommandSession
from backend.patients import model
from backend.plugins.service import patient_changed, with_warnings
from backend.privacy import keys


async def register_patient(
    session: CommandSession, patient_id: UUID, details: dict[str, Any]
) -> CommandResult:
    patient = await session.load(model.PATIENT, patient_id)
    events = model.register_patient(patient.state, patient_id, details, session.ctx.now.date())
    specialty = await patient_changed(session, patient.state, model.PATIENT.fold(events))
    result = await session.save(patient, events + specialty.events)
    return with_warnings(result, specialty)


async def change_details(
    session: CommandSession, patient_id: UUID, changes: dict[str, Any]
) -> CommandResult:
    patient = await session.load(model.PATIENT, patient_id, conditional=True)
    events = model.change_details(patient.state, changes, session.ctx.now.date())
    new_state = patient.state
    for event in events:
        new_state = model.evolve(new_state, event)
    specialty = await patient_changed(session, patient.state, new_state)
    result = await session.save(patient, events + specialty.events)
    return with_warnings(result, specialty)


async def erase(session: CommandSession, patient_id: UUID, reason: str) -> CommandResult:
    """Crypto-shred the patient: destroy their key, drop what holds their data in the clear
    (snapshots, stored command responses), and record the erasure, in one transaction."""
    patient = await session.load(model.PATIENT, patient_id, conditional=True)
    events = model.erase(patient.state, reason)
    await forget_snapshots(session.conn, model.PATIENT.stream_type, patient_id)
    await forget_responses_about(session.conn, patient_id)
    await keys.destroy(session.conn, session.tenant_id, patient_id)
    return await session.save(patient, events)
