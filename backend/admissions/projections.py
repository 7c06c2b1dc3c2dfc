"""Read models of the admissions context: one row per admission (its specialty values and its
reason redacted when its patient is erased), one row per ward."""

from __future__ import annotations

from backend.admissions.model import ADMISSION
from backend.admissions.wards import WARD
from backend.specialties.erasure import SPECIALTY_VALUES_REDACTED
from projections.framework import mirrored, redacting

ADMISSIONS = redacting(
    mirrored("admissions", ADMISSION, "rm_admissions", "admission_id"),
    f"{SPECIALTY_VALUES_REDACTED}, reason = $3::text",
)
WARDS = mirrored("wards", WARD, "rm_wards", "ward_id")
