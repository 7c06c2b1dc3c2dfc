"""A tenant's ward names: the stream that holds the name of each open ward, so that no two
open wards share one (pure).

Defining, renaming and closing a ward append to it in the same transaction as to the ward, each
stream expected at the version it was read at: of two concurrent definitions of one name, the
second is decided again on the fresh names and refused. Names compare without regard to case,
Unicode form or runs of whitespace ("Ward  a" is "Ward A").
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from backend.admissions.events import WardNameFreed, WardNameTaken
from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.errors import Conflict
from backend.kernel.events import DomainEvent


@dataclass(frozen=True)
class WardNames:
    holders: dict[str, UUID] = field(default_factory=dict)
    """The key of each name taken → the ward that has it."""


def name_key(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).split()).casefold()


def evolve(state: WardNames, event: DomainEvent) -> WardNames:
    if isinstance(event, WardNameTaken):
        return WardNames({**state.holders, name_key(event.name): event.ward_id})
    if (
        isinstance(event, WardNameFreed)
        and state.holders.get(name_key(event.name)) == event.ward_id
    ):
        key = name_key(event.name)
        return WardNames({k: w for k, w in state.holders.items() if k != key})
    return state


def view(state: WardNames) -> dict[str, Any]:
    return {"holders": dict(state.holders)}


def take(state: WardNames, ward_id: UUID, name: str, old_name: str | None) -> list[DomainEvent]:
    """`ward_id` takes `name` (giving up `old_name`, its name before, if any); 409
    WARD_NAME_TAKEN when another open ward has it."""
    holder = state.holders.get(name_key(name))
    if holder is not None and holder != ward_id:
        raise Conflict("WARD_NAME_TAKEN", f"another ward is named {name}")
    events: list[DomainEvent] = []
    if old_name is not None and name_key(old_name) != name_key(name):
        events.append(WardNameFreed(ward_id, old_name))
    return [*events, WardNameTaken(ward_id, name)]


def free(ward_id: UUID, name: str) -> list[DomainEvent]:
    return [WardNameFreed(ward_id, name)]


def ward_names_stream_id(tenant_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"caretrail:ward_names:{tenant_id}")


WARD_NAMES = register_aggregate(Aggregate("ward_names", WardNames, evolve, view))
