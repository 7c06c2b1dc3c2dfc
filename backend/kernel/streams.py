"""Stream types that code below the contexts names without importing the context that owns
them: the patient is the data subject that erasure, idempotent replays and specialty
calculations are about; visits, admissions, appointments and their medication record hold
sealed values about them (specialty values, reasons, notes, allergies), which an erasure reaches
(their snapshots are dropped)."""

from __future__ import annotations

PATIENT = "patient"
VISIT = "visit"
ADMISSION = "admission"
APPOINTMENT = "appointment"
PATIENT_MEDICATIONS = "patient_medications"
ABOUT_A_PATIENT = (VISIT, ADMISSION, APPOINTMENT, PATIENT_MEDICATIONS)
"""The stream types whose states name a patient (`patient_id`) and hold values sealed under
their key."""
