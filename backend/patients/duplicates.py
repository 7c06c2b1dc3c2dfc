"""Possible duplicates of a patient being registered (pure): a patient already known with the
same birth date and a similar name (patients.names.similar), or with the same phone.

Registration is never refused for it (twins share a birth date, a family shares a phone); the
front desk is told which patients to look at. The warning names them by id and reason only:
a command's response is kept for replay (Idempotency-Key) under the registered patient alone,
so another patient's name or phone in it would outlive that patient's erasure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from backend.kernel import phones
from backend.patients.names import similar

RULE = "possible_duplicate"
SAME_PHONE = "same_phone"
SIMILAR_NAME_SAME_BIRTH_DATE = "same_birth_date_similar_name"
MAX_SHOWN = 20
"""Candidates named at most (a clinic's shared phone may be on many patients)."""


@dataclass(frozen=True)
class Known:
    """A patient already registered, as the read model holds them."""

    patient_id: UUID
    given_name: str
    family_name: str
    birth_date: dt.date | None
    phone_digits: str | None


def phone_digits_of_same_number(e164: str | None, region: str) -> list[str]:
    """The recorded phone digits (patients' `phone_digits`) that are this number: its E.164
    digits, and its national number for a phone recorded as typed without its country code."""
    return phones.digit_forms(e164, region) if e164 else []


def warning(
    given_name: str,
    family_name: str,
    birth_date: dt.date,
    phone_forms: Sequence[str],
    known: Sequence[Known],
) -> dict[str, Any] | None:
    """The warning for a new patient, given the known patients who may match (same birth date
    or phone); None when none does."""
    candidates = []
    for other in known:
        reasons = []
        if other.birth_date == birth_date and similar(
            (given_name, family_name), (other.given_name, other.family_name)
        ):
            reasons.append(SIMILAR_NAME_SAME_BIRTH_DATE)
        if other.phone_digits is not None and other.phone_digits in phone_forms:
            reasons.append(SAME_PHONE)
        if reasons:
            candidates.append({"patient_id": str(other.patient_id), "reasons": reasons})
    if not candidates:
        return None
    return {
        "rule": RULE,
        "message": f"{len(candidates)} patient(s) already registered may be this patient:"
        " the same birth date and a similar name, or the same phone",
        "candidates": candidates[:MAX_SHOWN],
    }
