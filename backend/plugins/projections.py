"""The checklists read model: each checklist's folded state, one row per checklist stream."""

from __future__ import annotations

from typing import Any

import asyncpg

from backend.plugins.workflows import CHECKLIST, view
from projections.framework import mirrored


def checklist_view(row: asyncpg.Record) -> dict[str, Any]:
    return {**view(CHECKLISTS.from_row(row)), "version": row["version"]}


CHECKLISTS = mirrored("checklists", CHECKLIST, "rm_checklists", "checklist_id")
