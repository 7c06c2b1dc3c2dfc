"""Command handlers of the admissions context. Every command is refused outside a hospital."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from backend.admissions import model, ward_names, wards
from backend.admissions.events import WardNameTaken
from backend.admissions.stays import STAY, stay_stream_id
from backend.admissions.ward_names import WARD_NAMES, ward_names_stream_id
from backend.admissions.wards import WARD
from backend.handling import CommandResult, CommandSession, Loaded
from backend.kernel.clinical_time import occurred_at
from backend.kernel.events import DomainEvent
from backend.patients.model import PATIENT, record_death, require_active, status_of
from backend.specialties.capture import Capture
from backend.specialties.extension import (
    checklists_closed,
    checklists_started,
    stream_data_given,
    with_warnings,
)
from backend.tenancy.model import TENANT
from backend.tenancy.policy import TenantPolicy
from backend.tenancy.zone import command_zone


async def define_ward(
    session: CommandSession, ward_id: UUID, name: str, beds: list[str]
) -> CommandResult:
    """`ward_id` is new (the route makes it)."""
    await _hospital(session)
    ward = session.new(WARD, ward_id)
    events = wards.define(ward.state, ward_id, name, beds)
    names = await _names(session)
    named = ward_names.take(names.state, ward_id, WARD.fold(events).name, None)
    return await session.save(ward, events, names.others(named))


async def add_beds(session: CommandSession, ward_id: UUID, beds: list[str]) -> CommandResult:
    await _hospital(session)
    ward = await session.load(WARD, ward_id, conditional=True)
    return await session.save(ward, wards.add_beds(ward.state, beds))


async def rename_ward(session: CommandSession, ward_id: UUID, name: str) -> CommandResult:
    await _hospital(session)
    ward = await session.load(WARD, ward_id, conditional=True)
    events = wards.rename(ward.state, name)
    if not events:
        return await session.save(ward, events)
    names = await _names(session)
    renamed = WARD.fold(events, ward.state).name
    named = ward_names.take(names.state, ward_id, renamed, ward.state.name)
    return await session.save(ward, events, names.others(named))


async def close_ward(session: CommandSession, ward_id: UUID) -> CommandResult:
    await _hospital(session)
    ward = await session.load(WARD, ward_id, conditional=True)
    events = wards.close(ward.state)
    names = await _names(session)
    return await session.save(ward, events, names.others(ward_names.free(ward_id, ward.state.name)))


async def set_bed_state(
    session: CommandSession, ward_id: UUID, bed: str, state: str, reason: str | None
) -> CommandResult:
    await _hospital(session)
    ward = await session.load(WARD, ward_id, conditional=True)
    return await session.save(ward, wards.set_bed_state(ward.state, bed, state, reason))


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
    """`admission_id` is new (the route makes it)."""
    policy = await _hospital(session)
    at = occurred_at(admitted_at, session.ctx.now, policy.max_late, "admitted_at")
    require_active(await session.state_of(PATIENT, patient_id))
    admission = session.new(model.ADMISSION, admission_id)
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
    """Closes the admission's open checklists; a plugin's readiness rule may refuse a planned
    discharge or warn (backend/specialties/extension.checklists_closed)."""
    policy = await _hospital(session)
    at = occurred_at(discharged_at, session.ctx.now, policy.max_late, "discharged_at")
    admission = await session.load(model.ADMISSION, admission_id, conditional=True)
    decided = model.discharge(admission.state, disposition, summary, at, policy.timezone)
    closing = await checklists_closed(session, admission_id, disposition in model.PLANNED, at)
    patient_id = admission.state.patient_id
    assert patient_id is not None and admission.state.ward_id is not None
    ward = await session.load(WARD, admission.state.ward_id)
    stay = await session.load(STAY, stay_stream_id(patient_id))
    result = await _save(
        session, admission, decided, {ward.stream_id: ward}, stay, at, closing.checklists
    )
    return with_warnings(result, Capture(warnings=closing.warnings))


@dataclass(frozen=True)
class _Names:
    """The tenant's ward names as a command decides on them: with, the first time, the names
    of the wards defined before the stream existed (`seed`, appended with the command's)."""

    loaded: Loaded[ward_names.WardNames]
    seed: list[DomainEvent]
    state: ward_names.WardNames

    def others(
        self, events: list[DomainEvent]
    ) -> dict[UUID, tuple[Loaded[Any], list[DomainEvent]]]:
        return {self.loaded.stream_id: (self.loaded, self.seed + events)}


async def _names(session: CommandSession) -> _Names:
    loaded = await session.load(WARD_NAMES, ward_names_stream_id(session.tenant_id))
    seed: list[DomainEvent] = []
    if not loaded.exists:
        for ward_id in await session.store.stream_ids(session.conn, WARD.stream_type):
            ward = await session.state_of(WARD, ward_id)
            if ward.status == "open":
                seed.append(WardNameTaken(ward_id, ward.name))
    return _Names(loaded, seed, WARD_NAMES.fold(seed, loaded.state))


async def _hospital(session: CommandSession) -> TenantPolicy:
    policy = (await session.state_of(TENANT, session.tenant_id)).policy
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
    """Append the admission's events with every other stream's (wards, the patient's stay,
    checklists the admission starts), all at the clinical time: a ward read `valid_at` a
    moment then shows the bed as the admission does."""
    others = {w: (loaded_wards[w], events) for w, events in decided.wards.items()}
    others.update(checklists or {})
    if stay is not None:
        others[stay.stream_id] = (stay, decided.stay)
    return await session.save(
        admission, decided.admission, others, occurred_at=occurred_at, others_at=occurred_at
    )


async def record_death_at_discharge(
    session: CommandSession, admission_id: UUID, discharged_at: dt.datetime
) -> CommandResult | None:
    """The patient of an admission discharged as deceased died at the discharge. Nothing if
    their death is recorded already (the discharge came again, or staff were first) or they
    were erased meanwhile."""
    patient_id = (await session.state_of(model.ADMISSION, admission_id)).patient_id
    assert patient_id is not None  # a discharged admission names its patient
    patient = await session.load(PATIENT, patient_id)
    if status_of(patient.state) != "active":
        return None
    zone = await command_zone(session)
    events = record_death(patient.state, discharged_at, session.ctx.now, admission_id, zone=zone)
    return await session.save(patient, events, occurred_at=discharged_at)
