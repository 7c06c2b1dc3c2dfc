"""The ward aggregate: its beds and which admission occupies each (pure).

Every admission, transfer and discharge appends BedOccupied/BedReleased to the ward stream in
the same transaction as the admission's own event, each stream expected at the version it was
read at: two concurrent admissions to one bed cannot both commit, the second is decided again
on the fresh ward and refused. The ward also remembers when each bed was last released, so that
an admission charted late cannot place a patient in a bed that someone else occupied then.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from backend.admissions.events import BedOccupied, BedReleased, BedsAdded, WardDefined
from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent

RATIO = Decimal("0.01")


@dataclass(frozen=True)
class Ward:
    id: UUID | None = None
    name: str = ""
    beds: tuple[str, ...] = ()
    occupants: dict[str, UUID] = field(default_factory=dict)
    """Bed label → the admission in it."""
    released_at: dict[str, dt.datetime] = field(default_factory=dict)
    """Bed label → when its last occupant left."""

    def require_bed(self, bed: str) -> None:
        if bed not in self.beds:
            raise Invalid("bed", f"ward {self.name} has no bed {bed}")

    def check_free(self, bed: str) -> None:
        """Refuse a bed this ward does not have (422) or one that is taken (409)."""
        self.require_bed(bed)
        if bed in self.occupants:
            raise Conflict("BED_OCCUPIED", f"bed {bed} of ward {self.name} is occupied")

    def check_free_since(self, bed: str, moment: dt.datetime, field: str) -> None:
        """Refuse moving a patient into `bed` at `moment` if its last occupant left later."""
        left = self.released_at.get(bed)
        if left is not None and moment < left:
            raise Invalid(field, f"bed {bed} was occupied until {left.isoformat()}")


def evolve(state: Ward, event: DomainEvent) -> Ward:
    match event:
        case WardDefined():
            return Ward(event.ward_id, event.name, event.beds)
        case BedsAdded():
            return dataclasses.replace(state, beds=state.beds + event.beds)
        case BedOccupied():
            return dataclasses.replace(
                state, occupants={**state.occupants, event.bed: event.admission_id}
            )
        case BedReleased():
            if state.occupants.get(event.bed) != event.admission_id:
                return state
            occupants = {b: a for b, a in state.occupants.items() if b != event.bed}
            released = {**state.released_at, event.bed: event.released_at}
            return dataclasses.replace(state, occupants=occupants, released_at=released)
    return state


def occupancy_ratio(occupied: int, beds: int) -> Decimal:
    """The share of beds occupied, to two decimal places (0 for a ward without beds)."""
    if beds == 0:
        return Decimal("0.00")
    return (Decimal(occupied) / Decimal(beds)).quantize(RATIO, rounding=ROUND_HALF_UP)


def view(state: Ward) -> dict[str, Any]:
    occupied = len(state.occupants)
    return {
        "name": state.name,
        "beds": list(state.beds),
        "occupants": dict(state.occupants),
        "occupied": occupied,
        "free": len(state.beds) - occupied,
        "occupancy": str(occupancy_ratio(occupied, len(state.beds))),
    }


def define(state: Ward, ward_id: UUID, name: str, beds: list[str]) -> list[DomainEvent]:
    if state.id is not None:
        raise Conflict("WARD_EXISTS", "ward already exists")
    if not name.strip():
        raise Invalid("name", "must not be blank")
    labels = _labels(beds)
    if not labels:
        raise Invalid("beds", "a ward has at least one bed")
    return [WardDefined(ward_id, name.strip(), labels)]


def add_beds(state: Ward, beds: list[str]) -> list[DomainEvent]:
    if state.id is None:
        raise NotFound("ward not found")
    labels = _labels(beds)
    if not labels:
        raise Invalid("beds", "name at least one bed")
    taken = [b for b in labels if b in state.beds]
    if taken:
        raise Conflict("BED_EXISTS", f"ward {state.name} already has bed {', '.join(taken)}")
    return [BedsAdded(state.id, labels)]


def _labels(beds: list[str]) -> tuple[str, ...]:
    labels = tuple(b.strip() for b in beds)
    if any(not b for b in labels):
        raise Invalid("beds", "a bed label must not be blank")
    duplicates = sorted({b for b in labels if labels.count(b) > 1})
    if duplicates:
        raise Invalid("beds", f"bed labels are unique within a ward: {', '.join(duplicates)}")
    return labels


WARD = register_aggregate(Aggregate("ward", Ward, evolve, view))
