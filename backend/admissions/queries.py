"""HTTP reads of the admissions context: admissions, the census and bed occupancy.

The census and the occupancy answer the present from the read models, or a past moment
(`as_of`, `valid_at`) folded from the event store (backend/admissions/past.py). Every route
refuses a query parameter it does not declare.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from backend.admissions import past, wards
from backend.admissions.projections import ADMISSIONS, WARDS
from backend.api import access
from backend.api.deps import require, tenant_of
from backend.api.paging import Cursor, Keyset, Limit, page, page_of
from backend.api.query import declared_query_only
from backend.api.reads import (
    MinPosition,
    json_response,
    read_model,
    read_model_response,
    read_one,
)
from backend.api.types import Instant
from backend.auth.principal import STAFF, Principal, Role
from backend.eventstore import EventStore
from backend.eventstore.settling import settled_moment
from backend.kernel.errors import Invalid

router = APIRouter(prefix="/v1", tags=["admissions"], dependencies=[Depends(declared_query_only)])
Readers = Annotated[Principal, Depends(require(*STAFF, Role.AUDITOR))]
Status = Literal["admitted", "discharged"]
AsOf = Annotated[
    Instant | None,
    Query(description="as the system had recorded it by then (transaction time)"),
]
ValidAt = Annotated[
    Instant | None,
    Query(description="as it was then (clinical time), as known now"),
]


@router.get("/admissions/{admission_id}")
async def get_admission(
    admission_id: UUID, request: Request, principal: Readers, min_position: MinPosition = None
) -> Response:
    return await read_one(request, principal, ADMISSIONS, admission_id, min_position, "admission")


BY_ADMISSION = Keyset((("admitted_at", "timestamptz"), ("admission_id", "uuid")))
BY_BED = Keyset((("ward_id", "uuid"), ("bed", "text"), ("admission_id", "uuid")))
BY_NAME = Keyset((("name", "text"), ("ward_id", "uuid")))


@router.get("/admissions")
async def list_admissions(
    request: Request,
    principal: Readers,
    status: Status | None = None,
    ward_id: UUID | None = None,
    patient_id: UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
    min_position: MinPosition = None,
) -> Response:
    async with read_model(request, principal, ADMISSIONS.name, min_position) as (conn, at):
        body = await page(
            conn,
            "SELECT * FROM rm_admissions",
            "($1::text IS NULL OR status = $1) AND ($2::uuid IS NULL OR ward_id = $2)"
            " AND ($3::uuid IS NULL OR patient_id = $3)",
            (status, ward_id, patient_id),
            BY_ADMISSION,
            cursor,
            limit,
            ADMISSIONS.view_of,
        )
    return read_model_response(body, at)


async def _past(
    request: Request,
    as_of: dt.datetime | None,
    valid_at: dt.datetime | None,
    min_position: int | None,
) -> past.Cut | None:
    """The cut a read asks for (its `as_of` settled), or None for the present."""
    if as_of is None and valid_at is None:
        return None
    if min_position is not None:
        raise Invalid(
            "min_position", "a read as_of or valid_at folds the event store, not a read model"
        )
    if as_of is not None:
        as_of = await settled_moment(request.app.state.projector_pool, as_of)
    return past.Cut(as_of, valid_at)


@router.get("/census")
async def census(
    request: Request,
    principal: Readers,
    ward_id: UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
    min_position: MinPosition = None,
    as_of: AsOf = None,
    valid_at: ValidAt = None,
) -> Response:
    """Who is where now, or at a past moment: the patients in bed, by ward and bed; `count` is
    all of them."""
    cut = await _past(request, as_of, valid_at, min_position)
    if cut is not None:
        store: EventStore = request.app.state.store
        async with store.transaction(tenant_of(principal)) as conn:
            body = await past.census(conn, store, cut, ward_id, BY_BED, cursor, limit)
            about = [UUID(str(i["patient_id"])) for i in body["items"] if i.get("patient_id")]
            await access.record(conn, request, principal, about)
        return json_response({**body, **cut.answered()})
    in_bed = "status = 'admitted' AND ($1::uuid IS NULL OR ward_id = $1)"
    async with read_model(request, principal, ADMISSIONS.name, min_position) as (conn, at):
        body = await page(
            conn,
            "SELECT * FROM rm_admissions",
            in_bed,
            (ward_id,),
            BY_BED,
            cursor,
            limit,
            _in_bed,
        )
        count = await conn.fetchval(f"SELECT count(*) FROM rm_admissions WHERE {in_bed}", ward_id)
    return read_model_response({"count": count, **body}, at)


def _in_bed(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "admission_id": r["admission_id"],
        "patient_id": r["patient_id"],
        "ward_id": r["ward_id"],
        "bed": r["bed"],
        "specialty": r["specialty"],
        "admitted_at": r["admitted_at"],
        "in_bed_since": r["moved_at"],
    }


@router.get("/wards/occupancy")
async def occupancy(
    request: Request,
    principal: Readers,
    cursor: Cursor = None,
    limit: Limit = 100,
    min_position: MinPosition = None,
    as_of: AsOf = None,
    valid_at: ValidAt = None,
) -> Response:
    """The open wards by name, a page at a time (`items`), and `total` over all of them; now,
    or at a past moment (the wards defined and open then, with the beds they had)."""
    cut = await _past(request, as_of, valid_at, min_position)
    if cut is not None:
        store: EventStore = request.app.state.store
        async with store.transaction(tenant_of(principal)) as conn:
            counts = await past.occupancy(conn, store, cut)
        body = page_of(counts, BY_NAME, cursor, limit, _ward_occupancy)
        total = _occupancy(*(sum(c[k] for c in counts) for k in _COUNTS))
        return json_response({**body, "total": total, **cut.answered()})
    async with read_model(request, principal, WARDS.name, min_position) as (conn, at):
        body = await page(conn, _WARD_COUNTS, _OPEN, (), BY_NAME, cursor, limit, _ward_occupancy)
        sums = ", ".join(f"coalesce(sum({k}), 0)::int" for k in _COUNTS)
        totals = await conn.fetchrow(f"SELECT {sums} FROM ({_WARD_COUNTS} WHERE {_OPEN}) w")
    return read_model_response({**body, "total": _occupancy(*totals)}, at)


_COUNTS = ("beds", "occupied", "unavailable")
_OPEN = "status = 'open'"
_WARD_COUNTS = (
    "SELECT ward_id, name, jsonb_array_length(beds) AS beds,"
    " (SELECT count(*) FROM jsonb_object_keys(occupants)) AS occupied,"
    " (SELECT count(*) FROM jsonb_object_keys(bed_states)) AS unavailable FROM rm_wards"
)


def _ward_occupancy(r: Mapping[str, Any]) -> dict[str, Any]:
    return {"ward_id": r["ward_id"], "name": r["name"], **_occupancy(*(r[k] for k in _COUNTS))}


def _occupancy(beds: int, occupied: int, unavailable: int) -> dict[str, Any]:
    return {
        "beds": beds,
        "occupied": occupied,
        "unavailable": unavailable,
        "free": beds - occupied - unavailable,
        "occupancy": str(wards.occupancy_ratio(occupied, beds)),
    }
