"""The checklists read model: each checklist's folded state, one row per checklist stream."""

from __future__ import annotations

from typing import Any

import asyncpg

from backend.plugins.workflows import CHECKLIST, Checklist, view
from projections.framework import StateProjection


def _checklist_row(c: Checklist) -> dict[str, Any]:
    return {
        "plugin": c.plugin,
        "plugin_version": c.plugin_version,
        "workflow": c.workflow,
        "name": c.name,
        "patient_id": c.patient_id,
        "subject_type": c.subject_type,
        "subject_id": c.subject_id,
        "status": c.status,
        "steps": c.steps,
    }


def _checklist(r: asyncpg.Record) -> Checklist:
    return Checklist(
        r["checklist_id"],
        r["plugin"],
        r["plugin_version"],
        r["workflow"],
        r["name"],
        r["patient_id"],
        r["subject_type"],
        r["subject_id"],
        r["status"],
        tuple(r["steps"]),
    )


def checklist_view(row: asyncpg.Record) -> dict[str, Any]:
    return {**view(_checklist(row)), "version": row["version"]}


CHECKLISTS = StateProjection(
    "checklists", CHECKLIST, "rm_checklists", "checklist_id", _checklist_row, _checklist
)
