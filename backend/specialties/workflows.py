"""Plugin workflows: checklists started by events, each step completion an event (pure).

A checklist is its own stream (type "checklist"), one per subject (an admission or a visit)
and workflow: its id follows from both, so a trigger seen twice starts it once. Checkbox steps
are ticked by any clinician; approval steps only by a holder of one of the step's roles.
A discharge closes its admission's open checklists; a workflow's `discharge` rule says whether
its checklist, while open, refuses the discharge or only warns (docs/plugins.md).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.errors import Conflict, Forbidden, NotFound
from backend.kernel.events import DomainEvent
from backend.specialties.events import (
    ChecklistClosed,
    ChecklistCompleted,
    ChecklistStarted,
    ChecklistStepCompleted,
)
from backend.specialties.model import Plugin

CHECKERS = frozenset({"CLINIC_ADMIN", "DOCTOR", "NURSE"})


class NotAnApprover(Forbidden):
    code = "NOT_AN_APPROVER"


@dataclass(frozen=True)
class Checklist:
    id: UUID | None = None
    plugin: str = ""
    plugin_version: str = ""
    workflow: str = ""
    name: str = ""
    patient_id: UUID | None = None
    subject_type: str = ""
    subject_id: UUID | None = None
    status: str = "none"
    steps: tuple[dict[str, Any], ...] = ()
    """Each step: id, type, label, required, approvers, done, by, at (JSON values)."""


def checklist_id(subject_id: UUID, plugin: str, workflow: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"caretrail:checklist:{subject_id}:{plugin}:{workflow}")


def evolve(state: Checklist, event: DomainEvent) -> Checklist:
    match event:
        case ChecklistStarted():
            return Checklist(
                event.checklist_id,
                event.plugin,
                event.plugin_version,
                event.workflow,
                event.name,
                event.patient_id,
                event.subject_type,
                event.subject_id,
                "open",
                event.steps,
            )
        case ChecklistStepCompleted():
            steps = tuple(
                {**s, "done": True, "by": event.by, "at": event.completed_at.isoformat()}
                if s["id"] == event.step
                else s
                for s in state.steps
            )
            return dataclasses.replace(state, steps=steps)
        case ChecklistCompleted():
            return dataclasses.replace(state, status="complete")
        case ChecklistClosed():
            return dataclasses.replace(state, status="closed")
    return state


def view(state: Checklist) -> dict[str, Any]:
    return dataclasses.asdict(state)


def workflows_of(plugin: Plugin) -> list[dict[str, Any]]:
    workflows: list[dict[str, Any]] = (plugin.manifest.get("spec") or {}).get("workflows", [])
    return workflows


def triggered(plugin: Plugin, trigger: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The plugin's workflows whose trigger is `trigger` ({"admission": True} or
    {"event": type})."""
    return [w for w in workflows_of(plugin) if w["trigger"] == dict(trigger)]


def start(
    state: Checklist,
    plugin: Plugin,
    workflow: Mapping[str, Any],
    patient_id: UUID,
    subject_type: str,
    subject_id: UUID,
) -> list[DomainEvent]:
    """Start the workflow's checklist for the subject (nothing if it was started already)."""
    if state.id is not None:
        return []
    steps = tuple(
        {
            "id": s["id"],
            "type": s["type"],
            "label": s["label"],
            "required": s.get("required", True),
            "approvers": list(s.get("approvers", [])),
            "done": False,
            "by": None,
            "at": None,
        }
        for s in workflow["steps"]
    )
    return [
        ChecklistStarted(
            checklist_id(subject_id, plugin.name, workflow["id"]),
            plugin.name,
            plugin.version,
            workflow["id"],
            workflow["name"],
            patient_id,
            subject_type,
            subject_id,
            steps,
        )
    ]


def complete_step(
    state: Checklist, step_id: str, actor: str, roles: frozenset[str], at: dt.datetime
) -> list[DomainEvent]:
    if state.id is None:
        raise NotFound("checklist not found")
    if state.status != "open":
        raise Conflict(f"CHECKLIST_{state.status.upper()}", f"the checklist is {state.status}")
    step = next((s for s in state.steps if s["id"] == step_id), None)
    if step is None:
        raise NotFound(f"the checklist has no step {step_id!r}")
    if step["done"]:
        raise Conflict("STEP_DONE", f"step {step_id!r} is already done")
    allowed = frozenset(step["approvers"]) if step["type"] == "approval" else CHECKERS
    if roles.isdisjoint(allowed):
        raise NotAnApprover(f"step {step_id!r} needs one of: {', '.join(sorted(allowed))}")
    events: list[DomainEvent] = [ChecklistStepCompleted(state.id, step_id, actor, at)]
    after = evolve(state, events[0])
    if all(s["done"] for s in after.steps if s["required"]):
        events.append(ChecklistCompleted(state.id))
    return events


def at_discharge(state: Checklist, rule: str | None, planned: bool) -> dict[str, str] | None:
    """What an open checklist makes of its subject's discharge: nothing when its required steps
    are done or its workflow has no `discharge` rule; with `refuse`, a planned discharge is
    refused (409 DISCHARGE_NOT_READY); otherwise (`warn`, or a discharge that cannot wait: a
    death, leaving against advice) a warning to return with it."""
    missing = [s["label"] for s in state.steps if s["required"] and not s["done"]]
    if rule is None or not missing:
        return None
    message = f"{state.name} ({state.plugin}) is not complete: {'; '.join(missing)}"
    if rule == "refuse" and planned:
        raise Conflict("DISCHARGE_NOT_READY", message)
    return {
        "rule": f"{state.plugin}.{state.workflow}",
        "message": message,
        "checklist_id": str(state.id),
    }


def close(state: Checklist, reason: str, at: dt.datetime) -> list[DomainEvent]:
    """Close an open checklist (nothing for one complete or closed already)."""
    if state.id is None or state.status != "open":
        return []
    return [ChecklistClosed(state.id, reason, at)]


CHECKLIST = register_aggregate(Aggregate("checklist", Checklist, evolve, view))
