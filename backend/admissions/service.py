"""Command handlers of the admissions context. Every command is refused outside a hospital."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from uuid import UUID

from backend.admissions import model, wards
from backend.admissions.stays import STAY, stay_stream_id
from backend.admissions.wards import WARD
from backend.handling import CommandResult, CommandSession, Loaded
from backend.kernel.clinical_time import occurred_at
from backend.kernel.errors import Invalid
from backend.kernel.events import DomainEvent
from backend.patients.model import PATIENT
from backend.plugins.service import checklists_started, stream_data_given, with_warnings
from backend.tenancy.policy import TenantPolicy
from backend.tenancy.service import policy_of


async def define_ward(
    session: CommandSession, ward_id: UUID, name: str, beds: list[str]
) -> CommandResult:
    await _hospital(session)
    ward = await session.load(WARD, ward_id)
    return await session.save(ward, wards.define(ward.state, ward_id, name, beds))


async def add_beds(session: CommandSession, ward_id: UUID, beds: list[str]) -> CommandResult:
    await _hospital(session)
    ward = await session.load(WARD, ward_id, conditional=True)
    return await session.save(ward, wards.add_beds(ward.state, beds))


async def admit(
    session: CommandSession,
    admission_id: UUID,
    patient_id: UUID,
    ward_id: UUID,
    bed: str,
    specialty: str | None,
    reason: str,
    admitted_at: dt.datetime | None,
    specialty_data: dict[str, Any] | None = None,
) -> CommandResult:
    policy = await _hospital(session)
    at = occurred_at(admitted_at, session.ctx.now, policy.max_late, "admitted_at")
    if not (await session.load(PATIENT, patient_id)).exists:
        raise Invalid("patient_id", "no such patient")
    admission = await session.load(model.ADMISSION, admission_id)
    ward = await session.load(WARD, ward_id)
    stay = await session.load(STAY, stay_stream_id(patient_id))
    decided = model.admit(
        admission.state,
        admission_id,
        patient_id,
        ward.state,
        stay.state,
        bed,
        specialty,
        reason,
        at,
    )
    admitted = model.ADMISSION.fold(decided.admission)
    captured = await stream_data_given(session, "admission", admitted, patient_id, specialty_data)
    decided = dataclasses.replace(decided, admission=decided.admission + captured.events)
    specialties = [*([specialty] if specialty else []), *(specialty_data or {})]
    checklists = await checklists_started(
        session, specialties, {"admission": True}, patient_id, "admission", admission_id
    )
    result = await _save(session, admission, decided, {ward_id: ward}, stay, at, checklists)
    return with_warnings(result, captured)


async def transfer(
    session: CommandSession, admission_id: UUID, ward_id: UUID, bed: str, reason: str | None
) -> CommandResult:
    await _hospital(session)
    admission = await session.load(model.ADMISSION, admission_id, conditional=True)
    current_id = admission.state.ward_id
    loaded = {ward_id: await session.load(WARD, ward_id)}
    if current_id is not None and current_id not in loaded:
        loaded[current_id] = await session.load(WARD, current_id)
    current = loaded[current_id].state if current_id is not None else wards.Ward()
    decided = model.transfer(
        admission.state, current, loaded[ward_id].state, bed, reason, session.ctx.now
    )
    return await _save(session, admission, decided, loaded, None, None)


async def discharge(
    session: CommandSession,
    admission_id: UUID,
    disposition: str,
    summary: str | None,
    discharged_at: dt.datetime | None,
) -> CommandResult:
    policy = await _hospital(session)
    at = occurred_at(discharged_at, session.ctx.now, policy.max_late, "discharged_at")
    admission = await session.load(model.ADMISSION, admission_id, conditional=True)
    decided = model.discharge(admission.state, disposition, summary, at)
    patient_id = admission.state.patient_id
    assert patient_id is not None and admission.state.ward_id is not None
    ward = await session.load(WARD, admission.state.ward_id)
    stay = await session.load(STAY, stay_stream_id(patient_id))
    return await _save(session, admission, decided, {ward.stream_id: ward}, stay, at)


async def _hospital(session: CommandSession) -> TenantPolicy:
    policy = await policy_of(session)
    model.require_hospital(policy.kind)
    return policy


async def _save(
    session: CommandSession,
    admission: Loaded[Any],
    decided: model.Decision,
    loaded_wards: dict[UUID, Loaded[Any]],
    stay: Loaded[Any] | None,
    occurred_at: dt.datetime | None,
    checklists: dict[UUID, tuple[Loaded[Any], list[DomainEvent]]] | None = None,
) -> CommandResult:
    """Append the admission's events (at their valid time) with every other stream's
    (wards, the patient's stay, checklists the admission starts)."""
    others = {w: (loaded_wards[w], events) for w, events in decided.wards.items()}
    others.update(checklists or {})
    if stay is not None:
        others[stay.stream_id] = (stay, decided.stay)
    return await session.save(admission, decided.admission, others, occurred_at=occurred_at)
