"""Command handlers of the patients context."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.handling import CommandResult, CommandSession
from backend.patients import model


async def register_patient(
    session: CommandSession, patient_id: UUID, details: dict[str, Any]
) -> CommandResult:
    patient = await session.load(model.PATIENT, patient_id)
    events = model.register_patient(patient.state, patient_id, details, session.ctx.now.date())
    return await session.save(patient, events)


async def change_details(
    session: CommandSession, patient_id: UUID, changes: dict[str, Any]
) -> CommandResult:
    patient = await session.load(model.PATIENT, patient_id, conditional=True)
    events = model.change_details(patient.state, changes, session.ctx.now.date())
    return await session.save(patient, events)
