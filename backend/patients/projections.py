"""The patients read model: each patient's folded state, with the columns search reads."""

from __future__ import annotations

from typing import Any

from backend.kernel import phones
from backend.patients.model import PATIENT, Patient
from backend.patients.names import name_key
from projections.framework import mirrored


def _patient_search(p: Patient) -> dict[str, Any]:
    """Columns search reads: the name's key (patients.names) and the recorded phone's digits
    (E.164's, or as typed for a phone recorded so); neither once erased or merged into another
    patient (search finds the kept record)."""
    hidden = p.erased or p.merged_into is not None
    return {
        "search_name": "" if hidden else name_key(p.given_name, p.family_name),
        "phone_digits": None if hidden else phones.digits(p.phone),
    }


PATIENTS = mirrored("patients", PATIENT, "rm_patients", "patient_id", _patient_search)
