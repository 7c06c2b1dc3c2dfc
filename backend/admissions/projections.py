"""Read models of the admissions context: one row per admission, one row per ward."""

from __future__ import annotations

from typing import Any

from backend.admissions.model import ADMISSION, Admission, stay_length
from backend.admissions.wards import WARD
from projections.framework import mirrored


def _length_of_stay(a: Admission) -> dict[str, Any]:
    """Columns for queries on how long patients stay: whole days and the hours beyond."""
    los = stay_length(a)
    return {
        "los_days": None if los is None else los.days,
        "los_hours": None if los is None else los.hours,
    }


ADMISSIONS = mirrored("admissions", ADMISSION, "rm_admissions", "admission_id", _length_of_stay)
WARDS = mirrored("wards", WARD, "rm_wards", "ward_id")
