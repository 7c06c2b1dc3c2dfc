"""The possible-duplicate rule (patients.duplicates, pure)."""

from __future__ import annotations

import datetime as dt
import uuid

from backend.patients.duplicates import Known, phone_digits_of_same_number, warning

BORN = dt.date(1984, 3, 2)
A, B, C = (uuid.UUID(int=n) for n in (1, 2, 3))


def test_same_birth_date_and_similar_name_or_same_phone_are_named_by_id_and_reason() -> None:
    forms = phone_digits_of_same_number("+12125550101", "US")
    known = [
        Known(A, "Anne", "Lee", BORN, None),
        Known(B, "Bo", "Chan", dt.date(1990, 1, 1), "2125550101"),  # recorded as typed
        Known(C, "Ann", "Lee", dt.date(1985, 3, 2), None),  # another birth date
    ]
    found = warning("Ann", "Lee", BORN, forms, known)
    assert found is not None
    assert found["rule"] == "possible_duplicate"
    assert found["candidates"] == [
        {"patient_id": str(A), "reasons": ["same_birth_date_similar_name"]},
        {"patient_id": str(B), "reasons": ["same_phone"]},
    ]


def test_a_different_name_born_the_same_day_is_no_duplicate() -> None:
    assert warning("Ann", "Lee", BORN, [], [Known(A, "Dan", "Lee", BORN, None)]) is None
    assert phone_digits_of_same_number(None, "US") == []
