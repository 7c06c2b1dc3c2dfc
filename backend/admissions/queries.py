"""HTTP reads of the admissions context: admissions, the census and bed occupancy."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from backend.admissions import wards
from backend.admissions.projections import ADMISSIONS, WARDS
from backend.api.deps import require
from backend.api.reads import MinPosition, read_model, read_model_response, read_one
from backend.auth.principal import STAFF, Principal, Role

router = APIRouter(prefix="/v1", tags=["admissions"])
Readers = Annotated[Principal, Depends(require(*STAFF, Role.AUDITOR))]
Status = Literal["admitted", "discharged"]


@router.get("/admissions/{admission_id}")
async def get_admission(
    admission_id: UUID, request: Request, principal: Readers, min_position: MinPosition = None
) -> Response:
    return await read_one(request, principal, ADMISSIONS, admission_id, min_position, "admission")


@router.get("/admissions")
async def list_admissions(
    request: Request,
    principal: Readers,
    status: Status | None = None,
    ward_id: UUID | None = None,
    patient_id: UUID | None = None,
    min_position: MinPosition = None,
) -> Response:
    async with read_model(request, principal, ADMISSIONS.name, min_position) as (conn, at):
        rows = await conn.fetch(
            "SELECT * FROM rm_admissions WHERE ($1::text IS NULL OR status = $1)"
            " AND ($2::uuid IS NULL OR ward_id = $2)"
            " AND ($3::uuid IS NULL OR patient_id = $3)"
            " ORDER BY admitted_at, admission_id",
            status,
            ward_id,
            patient_id,
        )
    return read_model_response({"items": [ADMISSIONS.view_of(r) for r in rows]}, at)


@router.get("/census")
async def census(
    request: Request,
    principal: Readers,
    ward_id: UUID | None = None,
    min_position: MinPosition = None,
) -> Response:
    """Who is where now: the open admissions, by ward and bed."""
    async with read_model(request, principal, ADMISSIONS.name, min_position) as (conn, at):
        rows = await conn.fetch(
            "SELECT * FROM rm_admissions WHERE status = 'admitted'"
            " AND ($1::uuid IS NULL OR ward_id = $1) ORDER BY ward_id, bed",
            ward_id,
        )
    items = [
        {
            "admission_id": r["admission_id"],
            "patient_id": r["patient_id"],
            "ward_id": r["ward_id"],
            "bed": r["bed"],
            "specialty": r["specialty"],
            "admitted_at": r["admitted_at"],
            "in_bed_since": r["moved_at"],
        }
        for r in rows
    ]
    return read_model_response({"count": len(items), "items": items}, at)


@router.get("/wards/occupancy")
async def occupancy(
    request: Request, principal: Readers, min_position: MinPosition = None
) -> Response:
    async with read_model(request, principal, WARDS.name, min_position) as (conn, at):
        rows = await conn.fetch("SELECT * FROM rm_wards ORDER BY name, ward_id")
    items = [_occupancy(r["ward_id"], r["name"], len(r["beds"]), len(r["occupants"])) for r in rows]
    total = _occupancy(None, None, sum(i["beds"] for i in items), sum(i["occupied"] for i in items))
    return read_model_response({"wards": items, "total": total}, at)


def _occupancy(ward_id: UUID | None, name: str | None, beds: int, occupied: int) -> dict[str, Any]:
    counts = {
        "beds": beds,
        "occupied": occupied,
        "free": beds - occupied,
        "occupancy": str(wards.occupancy_ratio(occupied, beds)),
    }
    return counts if ward_id is None else {"ward_id": ward_id, "name": name, **counts}
