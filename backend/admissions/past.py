"""The census and ward occupancy at a past moment, folded from the event store.

The read models hold the present only. A past census folds every ward stream inside the cut,
as `GET /v1/streams/{type}/{id}` folds one (docs/temporal.md): `as_of` what had been recorded
by then (transaction time, settled first), `valid_at` who was in which bed then as known now
(clinical time; a ward's bed events carry the admission's, transfer's and discharge's clinical
times), or both. The admissions on the census page are folded inside the same cut, for when
each patient came into their bed then. A hospital's wards are few, so this is a handful of
folds per read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from backend.admissions.model import ADMISSION
from backend.admissions.wards import WARD, Ward
from backend.api.paging import Keyset, page_of
from backend.eventstore import EventStore
from backend.loading import fold_stream


@dataclass(frozen=True)
class Cut:
    as_of: dt.datetime | None
    """Recorded by then (already settled)."""
    valid_at: dt.datetime | None
    """Occurred by then."""

    def answered(self) -> dict[str, Any]:
        """What a past read says it is an answer for."""
        return {"as_of": self.as_of, "valid_at": self.valid_at}


async def census(
    conn: asyncpg.Connection,
    store: EventStore,
    cut: Cut,
    ward_id: UUID | None,
    keyset: Keyset,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    """Who was where at the cut, by ward and bed: `{count, items, next_cursor}` as the present
    census answers it."""
    beds = [
        {"ward_id": w, "bed": bed, "admission_id": admission}
        for w, ward in await _wards(conn, store, cut, ward_id)
        for bed, admission in ward.occupants.items()
    ]
    body = page_of(beds, keyset, cursor, limit, lambda bed: bed)
    items = [await _in_bed(conn, cut, bed) for bed in body["items"]]
    return {"count": len(beds), **body, "items": items}


async def occupancy(conn: asyncpg.Connection, store: EventStore, cut: Cut) -> list[dict[str, Any]]:
    """Each ward defined and open at the cut: `{ward_id, name, beds, occupied, unavailable}`
    (counts)."""
    return [
        {
            "ward_id": w,
            "name": ward.name,
            "beds": len(ward.beds),
            "occupied": len(ward.occupants),
            "unavailable": len(ward.bed_states),
        }
        for w, ward in await _wards(conn, store, cut, None)
        if ward.id is not None and ward.status == "open"
    ]


async def _wards(
    conn: asyncpg.Connection, store: EventStore, cut: Cut, ward_id: UUID | None
) -> list[tuple[UUID, Ward]]:
    """The wards (or the one asked for) with anything inside the cut, folded inside it."""
    ids = (
        [ward_id]
        if ward_id
        else await store.stream_ids(conn, WARD.stream_type, recorded_by=cut.as_of)
    )
    wards = []
    for stream_id in ids:
        folded = await fold_stream(
            conn, WARD, stream_id, recorded_by=cut.as_of, occurred_by=cut.valid_at
        )
        if folded.version:
            wards.append((stream_id, folded.state))
    return wards


async def _in_bed(conn: asyncpg.Connection, cut: Cut, bed: Mapping[str, Any]) -> dict[str, Any]:
    admission = (
        await fold_stream(
            conn, ADMISSION, bed["admission_id"], recorded_by=cut.as_of, occurred_by=cut.valid_at
        )
    ).state
    return {
        "admission_id": bed["admission_id"],
        "patient_id": admission.patient_id,
        "ward_id": bed["ward_id"],
        "bed": bed["bed"],
        "specialty": admission.specialty,
        "admitted_at": admission.admitted_at,
        "in_bed_since": admission.moved_at,
    }
