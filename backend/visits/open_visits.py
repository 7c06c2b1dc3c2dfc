"""A patient's open visits: the stream that knows them, so that opening a second one warns
(pure).

A second open visit is not refused (a patient may be seen in two departments the same day),
but it usually means one was not signed off or the patient was registered twice, so the
opening answers a warning. Opening appends PatientVisitOpened here and sign-off
PatientVisitClosed, each in the visit's own transaction: two concurrent openings for one
patient conflict on this stream, and the one decided again sees the other. Visits opened before
this stream existed are not on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.events import DomainEvent
from backend.visits.events import PatientVisitClosed, PatientVisitOpened

SECOND_OPEN_VISIT = "second_open_visit"


@dataclass(frozen=True)
class OpenVisits:
    visit_ids: tuple[UUID, ...] = ()


def evolve(state: OpenVisits, event: DomainEvent) -> OpenVisits:
    if isinstance(event, PatientVisitOpened) and event.visit_id not in state.visit_ids:
        return OpenVisits((*state.visit_ids, event.visit_id))
    if isinstance(event, PatientVisitClosed):
        return OpenVisits(tuple(v for v in state.visit_ids if v != event.visit_id))
    return state


def view(state: OpenVisits) -> dict[str, Any]:
    return {"visit_ids": list(state.visit_ids)}


def open_visits_stream_id(patient_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"caretrail:patient_visits:{patient_id}")


def opening(
    state: OpenVisits, patient_id: UUID, visit_id: UUID
) -> tuple[list[DomainEvent], list[dict[str, str]]]:
    """The events for a visit being opened, and the warning when others are open."""
    others = [str(v) for v in state.visit_ids if v != visit_id]
    warnings = (
        [
            {
                "rule": SECOND_OPEN_VISIT,
                "message": f"the patient already has an open visit: {', '.join(others)}",
            }
        ]
        if others
        else []
    )
    return [PatientVisitOpened(patient_id, visit_id)], warnings


def closing(state: OpenVisits, patient_id: UUID, visit_id: UUID) -> list[DomainEvent]:
    """Nothing for a visit not on the stream (opened before it existed)."""
    return [PatientVisitClosed(patient_id, visit_id)] if visit_id in state.visit_ids else []


OPEN_VISITS = register_aggregate(Aggregate("patient_visits", OpenVisits, evolve, view))
