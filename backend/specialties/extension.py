"""How a context's command takes specialty values: the hooks patients, visits and admissions
call when a command carries specialty data, and the recording of a specialty event on a visit's
or admission's stream.

The specialties engine sits below the clinical contexts (docs/architecture.md, the dependency
rule): it knows their streams only by stream type, through the kernel's aggregate registry, and
the people they are about through the `Person` protocol.

A capture that needs calculations raises `OutsideWork`: the command's transaction ends, the
calculator workers compute them, and the command is decided again with their outcomes
(`session.prepared`). A rule or calculator that fails refuses the command and is logged with
its plugin and version.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import structlog

from backend.handling import CommandResult, CommandSession, Loaded, OutsideWork
from backend.kernel import streams
from backend.kernel.aggregate import Aggregate, aggregate_for
from backend.kernel.clinical_time import occurred_at
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent
from backend.specialties import capture, registry, units, workflows
from backend.specialties.capture import Capture, Results
from backend.specialties.folding import HasSpecialty
from backend.specialties.model import Plugin, PluginFailure, age_years
from backend.tenancy import model as tenancy
from backend.tenancy.zone import tenant_today

log = structlog.get_logger("caretrail.plugins")
OPEN_STATUS = {"visit": "open", "admission": "admitted"}


class Person(Protocol):
    """What the engine reads of a patient's state (the patients context's `Patient`)."""

    @property
    def id(self) -> UUID | None: ...

    @property
    def birth_date(self) -> dt.date | None: ...

    @property
    def sex(self) -> str: ...

    @property
    def specialty_data(self) -> dict[str, Any]: ...

    @property
    def calculations(self) -> dict[str, Any]: ...


async def enabled_plugins(session: CommandSession) -> dict[str, Plugin]:
    """The tenant's enabled specialties that serve now (a plugin whose manifest became
    invalid on a reload serves its previous version; one that never loaded does not)."""
    tenant = await session.load(tenancy.TENANT, session.tenant_id)
    return registry.active().catalog.serving(tenant.state.specialties)


def core_inputs(patient: Person, today: dt.date) -> dict[str, Any]:
    """The platform's inputs to calculators and rules: age in whole years and sex."""
    age = age_years(patient.birth_date, today)
    return {"sex": patient.sex} if age is None else {"age_years": age, "sex": patient.sex}


async def in_own_units(session: CommandSession, data: dict[str, Any] | None) -> Any:
    """Specialty data given for a patient with each value given in another unit converted to
    its field's own (backend/specialties/units.py), before the patient merges it."""
    if not data:
        return data
    return units.data_in_own_units(await enabled_plugins(session), data)


async def patient_changed(
    session: CommandSession, old: Person, new: Person, given: dict[str, Any] | None
) -> Capture:
    """Check the specialty data `given` for a patient (merged over `old`'s into `new`) and
    decide its calculations (nothing to do when the specialty data did not change)."""
    if not given or new.specialty_data == old.specialty_data:
        return Capture()
    plugins = await enabled_plugins(session)
    core = core_inputs(new, await tenant_today(session))
    patient_id = new.id
    assert patient_id is not None  # registered (new) or loaded (a change)
    return _decided(
        session,
        lambda results: capture.patient_data(
            plugins, patient_id, old.specialty_data, given, core, old.calculations, results
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
    return _decided(
        session,
        lambda results: capture.stream_data(
            plugins, target, state, data, core, patient_data, results
        ),
    )


async def change_stream_data(
    session: CommandSession,
    target: str,
    stream_id: UUID,
    data: dict[str, Any],
    claimed_at: dt.datetime | None,
) -> CommandResult:
    """Specialty data of a visit or an admission changed after it opened (a late lab result,
    a correction), until sign-off or discharge. Only what changes is recorded, as
    `SpecialtyDataRecorded` at its clinical time (`claimed_at`, within the late-charting
    policy); calculations whose inputs changed run again, each result a new
    `CalculationRecorded`, so the earlier results stay in the stream's history."""
    loaded = await _open_stream(session, target, stream_id)
    policy = (await session.state_of(tenancy.TENANT, session.tenant_id)).policy
    at = occurred_at(claimed_at, session.ctx.now, policy.max_late)
    state = loaded.state
    decided = await stream_data_given(session, target, state, state.patient_id, data)
    result = await session.save(loaded, decided.events, occurred_at=at)
    return with_warnings(result, decided)


async def _open_stream(session: CommandSession, target: str, stream_id: UUID) -> Loaded[Any]:
    """The visit or admission, while it is open (not signed off, not discharged)."""
    aggregate: Aggregate[Any] | None = aggregate_for(target)
    assert aggregate is not None, target  # the route names "visit" or "admission"
    loaded = await session.load(aggregate, stream_id, conditional=True)
    if not loaded.exists:
        raise NotFound(f"{target} {stream_id} not found")
    if loaded.state.status != OPEN_STATUS[target]:
        raise Conflict(f"{target.upper()}_CLOSED", f"the {target} is {loaded.state.status}")
    return loaded


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
    loaded = await _open_stream(session, target, stream_id)
    state = loaded.state
    plugin = (await enabled_plugins(session)).get(plugin_name)
    if plugin is None:
        raise Invalid("plugin", f"specialty {plugin_name!r} is not enabled for this tenant")
    policy = (await session.state_of(tenancy.TENANT, session.tenant_id)).policy
    at = occurred_at(claimed_at, session.ctx.now, policy.max_late)
    core, patient_data = await _patient(session, state.patient_id)
    decided = _decided(
        session,
        lambda results: capture.specialty_event(
            plugin, target, state, event_type, data, record_id, at, core, patient_data, results
        ),
    )
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


@dataclass(frozen=True)
class Closing:
    """A subject's checklists closed by its discharge, and the warnings of their rules."""

    checklists: dict[UUID, tuple[Loaded[Any], list[DomainEvent]]]
    warnings: list[dict[str, str]]


async def checklists_closed(
    session: CommandSession, subject_id: UUID, planned: bool, at: dt.datetime
) -> Closing:
    """The subject's open checklists, each closed (`ChecklistClosed` at `at`, as `others` for
    CommandSession.save), after its workflow's `discharge` rule had its say: a `refuse` in a
    plugin the tenant has enabled refuses a `planned` discharge while required steps are open
    (409 DISCHARGE_NOT_READY), a `warn` (or an unplanned discharge) adds a warning. Every plugin
    serving is looked at, so a specialty disabled during the stay still has its checklists
    closed."""
    enabled = await enabled_plugins(session)
    closing = Closing({}, [])
    for plugin in registry.active().catalog.plugins.values():
        for workflow in workflows.workflows_of(plugin):
            stream_id = workflows.checklist_id(subject_id, plugin.name, workflow["id"])
            loaded = await session.load(workflows.CHECKLIST, stream_id)
            events = workflows.close(loaded.state, "discharged", at)
            if not events:
                continue
            rule = workflow.get("discharge") if plugin.name in enabled else None
            warning = workflows.at_discharge(loaded.state, rule, planned)
            closing.warnings.extend([warning] if warning else [])
            closing.checklists[stream_id] = (loaded, events)
    return closing


def with_warnings(result: CommandResult, decided: Capture, **extra: Any) -> CommandResult:
    """The response also carries the warnings of the rules the command triggered."""
    return dataclasses.replace(result, view={**result.view, **extra, "warnings": decided.warnings})


async def _patient(
    session: CommandSession, patient_id: UUID | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    if patient_id is None:
        return {}, {}
    person: Person = await session.state_of(_patients(), patient_id)
    return core_inputs(person, await tenant_today(session)), person.specialty_data


def _patients() -> Aggregate[Any]:
    aggregate = aggregate_for(streams.PATIENT)
    assert aggregate is not None  # registered when the patients context is imported
    return aggregate


def _decided(session: CommandSession, decide: Callable[[Results], Capture]) -> Capture:
    """The capture `decide` gives with the outcomes of the calculations computed so far; if
    it needs more, they are computed outside the transaction and the command runs again."""
    try:
        decided = decide(session.prepared)
    except PluginFailure as e:
        log.error(
            "plugin_refused_command",
            code=e.code,
            plugin=e.plugin,
            plugin_version=e.plugin_version,
            field=e.field,
            reason=e.message,
        )
        raise
    if decided.pending:
        pending, workers = decided.pending, registry.active().workers
        raise OutsideWork(lambda: workers.run(pending, session.prepared))
    for warning in decided.warnings:
        if "not_evaluated" in warning:
            plugin = warning["rule"].split(".", 1)[0]
            log.error(
                "plugin_rule_not_evaluated",
                plugin=plugin,
                plugin_version=decided.versions.get(plugin),
                rule=warning["rule"],
                reason=warning["not_evaluated"],
            )
    session.note_plugins(decided.versions)
    return decided
