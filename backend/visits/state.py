"""The visit's state and the checks every visit decision starts from (pure).

Nested values are JSON-native (strings for times, ids and decimals) so the read model, which
stores them as jsonb, folds to exactly the same state as the command side.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from backend.kernel.errors import Conflict, Invalid, NotFound


@dataclass(frozen=True)
class Visit:
    id: UUID | None = None
    patient_id: UUID | None = None
    practitioner_id: UUID | None = None
    appointment_id: UUID | None = None
    reason: str | None = None
    status: str = "none"
    opened_at: dt.datetime | None = None
    note: dict[str, str] | None = None
    note_revision: int = 0
    note_author: str | None = None
    """Who wrote the current revision (their token's `sub`; None for revisions before v2)."""
    signed_note_hash: str | None = None
    """The hash of the note as signed off (model.note_hash); None before sign-off."""
    services: tuple[dict[str, Any], ...] = ()
    vitals: tuple[dict[str, Any], ...] = ()
    prescriptions: tuple[dict[str, Any], ...] = ()
    lab_orders: tuple[dict[str, Any], ...] = ()
    addenda: tuple[dict[str, Any], ...] = ()
    covering: tuple[str, ...] = ()
    """Doctors who took cover of the visit (their `sub`), in the order they took it."""
    specialty_data: dict[str, Any] = field(default_factory=dict)
    specialty_events: tuple[dict[str, Any], ...] = ()
    calculations: dict[str, Any] = field(default_factory=dict)


def existing(state: Visit) -> UUID:
    """The visit's id; NOT_FOUND when there is no visit."""
    if state.id is None:
        raise NotFound("visit not found")
    return state.id


def still_open(state: Visit) -> UUID:
    """The visit's id; VISIT_SIGNED when sign-off has frozen it."""
    visit_id = existing(state)
    if state.status == "signed":
        raise Conflict("VISIT_SIGNED", "the visit is signed off; write an addendum instead")
    return visit_id


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def required(field: str, value: str) -> str:
    if not value.strip():
        raise Invalid(field, "must not be blank")
    return value.strip()


def optional(value: str | None) -> str | None:
    return (value or "").strip() or None
