"""Helpers for the visit unit tests (pure): ids, a clock, and visits in a given state."""

from __future__ import annotations

import datetime as dt
import uuid

from backend.kernel.events import DomainEvent
from backend.visits import lab, model, vitals
from backend.visits.events import VisitOpened
from backend.visits.model import VISIT
from backend.visits.state import Visit
from backend.visits.vitals import Readings

VISIT_ID = uuid.UUID("10000000-0000-4000-8000-000000000001")
PATIENT = uuid.UUID("20000000-0000-4000-8000-000000000002")
DOC = uuid.UUID("30000000-0000-4000-8000-000000000003")
APPT = uuid.UUID("40000000-0000-4000-8000-000000000004")
ORDER = uuid.UUID("50000000-0000-4000-8000-000000000005")
READING = uuid.UUID("60000000-0000-4000-8000-000000000006")
NOW = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)
NOTE = {"subjective": "cough", "objective": "38.2 C", "assessment": "bronchitis", "plan": "rest"}


def opened(at: dt.datetime = NOW) -> Visit:
    return VISIT.fold([VisitOpened(VISIT_ID, PATIENT, DOC, None, None, at)])


def after(state: Visit, events: list[DomainEvent]) -> Visit:
    for event in events:
        state = model.evolve(state, event)
    return state


def signed(state: Visit | None = None) -> Visit:
    """`state` (default: a visit just opened) with a note, signed off by its doctor."""
    noted = after(state or opened(), model.draft_note(state or opened(), NOTE, "doc"))
    return after(noted, model.sign_off(noted, str(DOC), is_doctor=True))


def charted(state: Visit) -> Visit:
    """`state` (open) with one vitals reading (READING, by nurse "n") and one lab order
    (ORDER) reported as 13.5 g/dL by "tech"."""
    assert state.opened_at is not None
    at = state.opened_at
    state = after(state, vitals.record_vitals(state, READING, at, Readings(heart_rate=70), "n"))
    state = after(state, lab.order_lab(state, ORDER, "CBC", "Blood count", at))
    state = after(state, lab.collect_specimen(state, ORDER, at))
    result = lab.LabResult("13.5", "g/dL", "12-16", False, None)
    return after(state, lab.report_result(state, ORDER, result, "tech", at))
