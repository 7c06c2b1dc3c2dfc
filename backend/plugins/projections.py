"""The checklists read model: each checklist's folded state, one row per checklist stream."""

from __future__ import annotations

from backend.plugins.workflows import CHECKLIST
from projections.framework import mirrored

CHECKLISTS = mirrored("checklists", CHECKLIST, "rm_checklists", "checklist_id")
