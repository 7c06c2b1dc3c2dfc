"""The ward aggregate: its beds, which admission occupies each, and the state of each free
bed (pure).

Every admission, transfer and discharge appends BedOccupied/BedReleased to the ward stream in
the same transaction as the admission's own event, each stream expected at the version it was
read at: two concurrent admissions to one bed cannot both commit, the second is decided again
on the fresh ward and refused. The ward also remembers when each bed was last released, so that
an admission charted late cannot place a patient in a bed that someone else occupied then.
A free bed may be taken out of service for a while (being cleaned, blocked); a closed ward takes
no patients. Both refuse an admission or a transfer into them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import unicodedata
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal
from uuid import UUID

from backend.admissions.events import (
    BedOccupied,
    BedReleased,
    BedsAdded,
    BedStateChanged,
    WardClosed,
    WardDefined,
    WardRenamed,
)
from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent

RATIO = Decimal("0.01")
BedState = Literal["available", "cleaning", "blocked"]
AVAILABLE = "available"


@dataclass(frozen=True)
class Ward:
    id: UUID | None = None
    name: str = ""
    beds: tuple[str, ...] = ()
    occupants: dict[str, UUID] = field(default_factory=dict)
    """Bed label → the admission in it."""
    released_at: dict[str, dt.datetime] = field(default_factory=dict)
    """Bed label → when its last occupant left."""
    status: str = "open"
    """open, or closed (takes no patients)."""
    bed_states: dict[str, str] = field(default_factory=dict)
    """Bed label → cleaning or blocked, for the beds out of service (absent: available)."""

    def require_bed(self, bed: str) -> None:
        if bed not in self.beds:
            raise Invalid("bed", f"ward {self.name} has no bed {bed}")

    def require_open(self) -> None:
        if self.status != "open":
            raise Conflict("WARD_CLOSED", f"ward {self.name} is closed")

    def check_free(self, bed: str) -> None:
        """Refuse a bed this ward does not have (422), or one that is taken, out of service or
        in a closed ward (409)."""
        self.require_bed(bed)
        self.require_open()
        if bed in self.occupants:
            raise Conflict("BED_OCCUPIED", f"bed {bed} of ward {self.name} is occupied")
        if bed in self.bed_states:
            state = self.bed_states[bed]
            raise Conflict("BED_UNAVAILABLE", f"bed {bed} of ward {self.name} is {state}")

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
        case WardRenamed():
            return dataclasses.replace(state, name=event.name)
        case WardClosed():
            return dataclasses.replace(state, status="closed")
        case BedStateChanged():
            others = {b: s for b, s in state.bed_states.items() if b != event.bed}
            if event.state != AVAILABLE:
                others[event.bed] = event.state
            return dataclasses.replace(state, bed_states=others)
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
    occupied, unavailable = len(state.occupants), len(state.bed_states)
    return {
        "name": state.name,
        "status": state.status,
        "beds": list(state.beds),
        "occupants": dict(state.occupants),
        "bed_states": dict(state.bed_states),
        "occupied": occupied,
        "unavailable": unavailable,
        "free": len(state.beds) - occupied - unavailable,
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
    _existing(state).require_open()
    labels = _labels(beds)
    if not labels:
        raise Invalid("beds", "name at least one bed")
    taken = [b for b in labels if b in state.beds]
    if taken:
        raise Conflict("BED_EXISTS", f"ward {state.name} already has bed {', '.join(taken)}")
    assert state.id is not None
    return [BedsAdded(state.id, labels)]


def rename(state: Ward, name: str) -> list[DomainEvent]:
    """Nothing when the name does not change."""
    _existing(state).require_open()
    assert state.id is not None
    if not name.strip():
        raise Invalid("name", "must not be blank")
    return [] if name.strip() == state.name else [WardRenamed(state.id, name.strip())]


def close(state: Ward) -> list[DomainEvent]:
    """Only an empty ward closes: its patients are discharged or transferred first."""
    _existing(state).require_open()
    assert state.id is not None
    if state.occupants:
        beds = ", ".join(sorted(state.occupants))
        raise Conflict("WARD_NOT_EMPTY", f"ward {state.name} has patients in {beds}")
    return [WardClosed(state.id)]


def set_bed_state(state: Ward, bed: str, new: str, reason: str | None) -> list[DomainEvent]:
    """Take a free bed out of service (cleaning, blocked) or bring it back (available);
    nothing when it is in that state already."""
    _existing(state).require_open()
    assert state.id is not None
    bed = bed_label(bed)
    state.require_bed(bed)
    if new != AVAILABLE and bed in state.occupants:
        raise Conflict("BED_OCCUPIED", f"bed {bed} of ward {state.name} is occupied")
    if state.bed_states.get(bed, AVAILABLE) == new:
        return []
    return [BedStateChanged(state.id, bed, new, (reason or "").strip() or None)]


def _existing(state: Ward) -> Ward:
    if state.id is None:
        raise NotFound("ward not found")
    return state


def bed_label(label: str) -> str:
    """A bed label as wards hold it, wherever one is given (defining a ward, adding beds,
    admitting, transferring): NFC, without surrounding whitespace, so `"C6 "` names bed C6."""
    return unicodedata.normalize("NFC", label).strip()


def _labels(beds: list[str]) -> tuple[str, ...]:
    labels = tuple(bed_label(b) for b in beds)
    if any(not b for b in labels):
        raise Invalid("beds", "a bed label must not be blank")
    duplicates = sorted({b for b in labels if labels.count(b) > 1})
    if duplicates:
        raise Invalid("beds", f"bed labels are unique within a ward: {', '.join(duplicates)}")
    return labels


WARD = register_aggregate(Aggregate("ward", Ward, evolve, view, snapshot_version=2))
