"""The visits read model: each visit's folded state, one row per visit stream."""

from __future__ import annotations

from typing import Any

import asyncpg

from backend.encounters.model import VISIT, view
from projections.framework import mirrored


def visit_view(row: asyncpg.Record) -> dict[str, Any]:
    return {**view(VISITS.from_row(row)), "version": row["version"]}


VISITS = mirrored("visits", VISIT, "rm_visits", "visit_id")
