"""Command handlers of the plugins context, and the hooks other contexts call when a command
carries specialty values (patients, visits, admissions)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from uuid import UUID

from backend.admissions.model import ADMISSION
from backend.encounters.model import VISIT
from backend.handling import CommandResult, CommandSession, Loaded
from backend.kernel.aggregate import Aggregate
from backend.kernel.clinical_time import occurred_at
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent
from backend.patients.model import PATIENT, Patient
from backend.plugins import capture, registry, workflows
from backend.plugins.capture import Capture
from backend.plugins.folding import HasSpecialty
from backend.plugins.model import Plugin, age_years
from backend.tenancy import model as tenancy
from backend.tenancy.service import policy_of

OPEN_STATUS = {"visit": "open", "admission": "admitted"}


async def enabled_plugins(session: CommandSession) -> dict[str, Plugin]:
    """The tenant's enabled specialties that are loaded now (an enabled plugin whose manifest
    became invalid is unavailable until it is fixed and reloaded)."""
    tenant = await session.load(tenancy.TENANT, session.tenant_id)
    loaded = registry.active().catalog.plugins
    return {name: loaded[name] for name in tenant.state.specialties if name in loaded}


async def enable_specialties(session: CommandSession, names: list[str]) -> CommandResult:
    loaded = registry.active().catalog
    for i, name in enumerate(names):
        if name not in loaded.plugins:
            why = "is invalid (see GET /v1/specialties)" if name in loaded.problems else "unknown"
            raise Invalid(f"specialties.{i}", f"specialty {name!r} {why}")
    tenant = await session.load(tenancy.TENANT, session.tenant_id, conditional=True)
    session.note_plugins({name: loaded.plugins[name].version for name in names})
    return await session.save(tenant, tenancy.enable_specialties(tenant.state, names))


def core_inputs(patient: Patient, today: dt.date) -> dict[str, Any]:
    """The platform's inputs to calculators and rules: age in whole years and sex."""
    age = age_years(patient.birth_date, today)
    return {"sex": patient.sex} if age is None else {"age_years": age, "sex": patient.sex}


async def patient_changed(session: CommandSession, old: Patient, new: Patient) -> Capture:
    """Check a patient's new specialty data and decide its calculations (nothing to do when
    the specialty data did not change)."""
    if new.specialty_data == old.specialty_data:
        return Capture()
    plugins = await enabled_plugins(session)
    core = core_inputs(new, session.ctx.now.date())
    return _noted(
        session,
        capture.patient_data(
            plugins, old.specialty_data, new.specialty_data, core, old.calculations
        ),
    )


async def stream_data_given(
    session: CommandSession,
    target: str,
    state: HasSpecialty,
    patient_id: UUID,
    data: dict[str, Any] | None,
) -> Capture:
    """Specialty data given when a visit opens or a patient is admitted."""
    if not data:
        return Capture()
    plugins = await enabled_plugins(session)
    core, patient_data = await _patient(session, patient_id)
    return _noted(session, capture.stream_data(plugins, target, state, data, core, patient_data))


async def record_event(
    session: CommandSession,
    target: str,
    stream_id: UUID,
    plugin_name: str,
    event_type: str,
    data: dict[str, Any],
    claimed_at: dt.datetime | None,
    record_id: UUID,
) -> CommandResult:
    aggregate: Aggregate[Any] = VISIT if target == "visit" else ADMISSION
    loaded = await session.load(aggregate, stream_id, conditional=True)
    state = loaded.state
    if not loaded.exists:
        raise NotFound(f"{target} {stream_id} not found")
    if state.status != OPEN_STATUS[target]:
        raise Conflict(f"{target.upper()}_CLOSED", f"the {target} is {state.status}")
    plugin = (await enabled_plugins(session)).get(plugin_name)
    if plugin is None:
        raise Invalid("plugin", f"specialty {plugin_name!r} is not enabled for this tenant")
    policy = await policy_of(session)
    at = occurred_at(claimed_at, session.ctx.now, policy.max_late)
    core, patient_data = await _patient(session, state.patient_id)
    decided = capture.specialty_event(
        plugin, target, state, event_type, data, record_id, at, core, patient_data
    )
    _noted(session, decided)
    assert state.patient_id is not None
    started = await checklists_started(
        session, [plugin_name], {"event": event_type}, state.patient_id, target, stream_id
    )
    result = await session.save(loaded, decided.events, started, occurred_at=at)
    return with_warnings(result, decided, record_id=record_id)


async def checklists_started(
    session: CommandSession,
    names: list[str],
    trigger: dict[str, Any],
    patient_id: UUID,
    subject_type: str,
    subject_id: UUID,
) -> dict[UUID, tuple[Loaded[Any], list[DomainEvent]]]:
    """The checklists of the named enabled plugins whose workflows this trigger starts, as
    `others` for CommandSession.save."""
    started: dict[UUID, tuple[Loaded[Any], list[DomainEvent]]] = {}
    if not names:
        return started  # no specialty named: no need to read which ones are enabled
    plugins = await enabled_plugins(session)
    for name in dict.fromkeys(names):
        if name not in plugins:
            continue
        for workflow in workflows.triggered(plugins[name], trigger):
            stream_id = workflows.checklist_id(subject_id, name, workflow["id"])
            loaded = await session.load(workflows.CHECKLIST, stream_id)
            events = workflows.start(
                loaded.state, plugins[name], workflow, patient_id, subject_type, subject_id
            )
            if events:
                session.note_plugins({name: plugins[name].version})
                started[stream_id] = (loaded, events)
    return started


async def complete_step(session: CommandSession, checklist_id: UUID, step: str) -> CommandResult:
    checklist = await session.load(workflows.CHECKLIST, checklist_id, conditional=True)
    principal = session.ctx.principal
    roles = frozenset(str(r) for r in principal.roles)
    events = workflows.complete_step(checklist.state, step, principal.actor, roles, session.ctx.now)
    return await session.save(checklist, events)


def with_warnings(result: CommandResult, decided: Capture, **extra: Any) -> CommandResult:
    """The response also carries the warnings of the rules the command triggered."""
    return dataclasses.replace(result, view={**result.view, **extra, "warnings": decided.warnings})


async def _patient(
    session: CommandSession, patient_id: UUID | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    if patient_id is None:
        return {}, {}
    patient = (await session.load(PATIENT, patient_id)).state
    return core_inputs(patient, session.ctx.now.date()), patient.specialty_data


def _noted(session: CommandSession, decided: Capture) -> Capture:
    session.note_plugins(decided.versions)
    return decided
