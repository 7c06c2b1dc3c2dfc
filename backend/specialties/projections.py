"""The specialties' read models: the checklists (each checklist's folded state, one row per
checklist stream) and the worklist of recalls (backend/specialties/worklist.py)."""

from __future__ import annotations

from backend.specialties.workflows import CHECKLIST
from backend.specialties.worklist import WORKLIST
from projections.framework import mirrored

CHECKLISTS = mirrored("checklists", CHECKLIST, "rm_checklists", "checklist_id")

__all__ = ["CHECKLISTS", "WORKLIST"]
