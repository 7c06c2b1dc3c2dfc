"""The visits read model: each visit's folded state, one row per visit stream."""

from __future__ import annotations

from backend.encounters.model import VISIT
from projections.framework import mirrored

VISITS = mirrored("visits", VISIT, "rm_visits", "visit_id")
