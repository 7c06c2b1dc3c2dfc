"""Stream types that code below the contexts names without importing the context that owns
them: the tenant's own stream is the policy nearly every command decides on; the patient is the
data subject that erasure, idempotent replays and specialty calculations are about; visits and
admissions are what specialty recalls read."""

from __future__ import annotations

TENANT = "tenant"
PATIENT = "patient"
VISIT = "visit"
ADMISSION = "admission"
