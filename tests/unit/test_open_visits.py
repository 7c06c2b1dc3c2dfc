"""A patient's open visits: a second one warns, sign-off closes."""

from __future__ import annotations

import uuid

from visit_states import PATIENT

from backend.visits.events import PatientVisitClosed, PatientVisitOpened
from backend.visits.open_visits import (
    OPEN_VISITS,
    SECOND_OPEN_VISIT,
    OpenVisits,
    closing,
    opening,
)

FIRST, SECOND = uuid.uuid4(), uuid.uuid4()


def test_a_first_open_visit_is_noted_without_warning() -> None:
    events, warnings = opening(OpenVisits(), PATIENT, FIRST)
    assert events == [PatientVisitOpened(PATIENT, FIRST)] and warnings == []
    assert OPEN_VISITS.fold(events).visit_ids == (FIRST,)


def test_a_second_open_visit_warns_and_is_still_noted() -> None:
    one_open = OPEN_VISITS.fold([PatientVisitOpened(PATIENT, FIRST)])
    events, [warning] = opening(one_open, PATIENT, SECOND)
    assert events == [PatientVisitOpened(PATIENT, SECOND)]
    assert warning["rule"] == SECOND_OPEN_VISIT and str(FIRST) in warning["message"]


def test_sign_off_closes_a_noted_visit_and_only_a_noted_one() -> None:
    both = OPEN_VISITS.fold(
        [PatientVisitOpened(PATIENT, FIRST), PatientVisitOpened(PATIENT, SECOND)]
    )
    assert closing(both, PATIENT, FIRST) == [PatientVisitClosed(PATIENT, FIRST)]
    after = OPEN_VISITS.evolve(both, PatientVisitClosed(PATIENT, FIRST))
    assert after.visit_ids == (SECOND,)
    assert opening(after, PATIENT, FIRST)[1] != []
    assert closing(OpenVisits(), PATIENT, FIRST) == []  # opened before the stream existed
