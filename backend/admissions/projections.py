"""Read models of the admissions context: one row per admission, one row per ward."""

from __future__ import annotations

from backend.admissions.model import ADMISSION
from backend.admissions.wards import WARD
from projections.framework import mirrored

ADMISSIONS = mirrored("admissions", ADMISSION, "rm_admissions", "admission_id")
WARDS = mirrored("wards", WARD, "rm_wards", "ward_id")
