"""A patient's stay: the stream that holds at most one open admission per patient (pure).

Admitting appends PatientStayOpened to it and discharging PatientStayClosed, in the same
transaction as the admission, so two concurrent admissions of one patient cannot both commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from backend.admissions.events import PatientStayClosed, PatientStayOpened
from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.events import DomainEvent


@dataclass(frozen=True)
class Stay:
    admission_id: UUID | None = None
    """The patient's open admission, if any."""
    last_discharged_at: dt.datetime | None = None
    """When the patient's previous stay ended: a later admission may not start before."""


def evolve(state: Stay, event: DomainEvent) -> Stay:
    if isinstance(event, PatientStayOpened):
        return Stay(event.admission_id, state.last_discharged_at)
    if isinstance(event, PatientStayClosed) and event.admission_id == state.admission_id:
        return Stay(None, event.closed_at)
    return state


def view(state: Stay) -> dict[str, Any]:
    return {"admission_id": state.admission_id, "last_discharged_at": state.last_discharged_at}


def stay_stream_id(patient_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"caretrail:patient_stay:{patient_id}")


STAY = register_aggregate(Aggregate("patient_stay", Stay, evolve, view))
