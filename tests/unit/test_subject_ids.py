"""Which subject a sealed event names (privacy.sealing.subject_of, pure)."""

from __future__ import annotations

import uuid

import pytest

from backend.patients.events import PatientRegistered
from backend.privacy.sealing import subject_of

PATIENT = uuid.UUID("a5175504-5f52-411d-83fb-392ba1c5ac01")


@pytest.mark.parametrize(
    "stored",
    [
        str(PATIENT),
        str(PATIENT).upper(),
        PATIENT.hex,
        f"{{{PATIENT}}}",
        f"urn:uuid:{PATIENT}",
    ],
)
def test_a_subject_reads_as_uuid_reads_it(stored: str) -> None:
    subject = subject_of("PatientRegistered", {"patient_id": stored})
    assert subject == uuid.UUID(stored) == PATIENT
    assert hash(subject) == hash(PATIENT)


@pytest.mark.parametrize("stored", ["", "zz", str(PATIENT)[:-1], f"{PATIENT}0", None, 7])
def test_an_altered_subject_reads_as_none(stored: object) -> None:
    assert subject_of(PatientRegistered.type_name(), {"patient_id": stored}) is None
    assert subject_of(PatientRegistered.type_name(), {}) is None
