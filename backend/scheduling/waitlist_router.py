"""HTTP routes of the waitlist: join, list, leave, and accept an offer."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from backend.api.commands import execute
from backend.api.deps import require, tenant_of
from backend.api.paging import Cursor, Keyset, Limit, page
from backend.api.query import declared_query_only
from backend.api.reads import MinPosition, read_model, read_model_response
from backend.api.types import Day
from backend.auth.principal import STAFF, Principal, Role, listed_patient, may_read_patient
from backend.kernel.errors import Forbidden, NotFound
from backend.scheduling import waitlist_service
from backend.scheduling.waitlist_projection import WAITLIST_ENTRIES

router = APIRouter(
    prefix="/v1/waitlist", tags=["scheduling"], dependencies=[Depends(declared_query_only)]
)
StaffOrPatient = Annotated[Principal, Depends(require(*STAFF, Role.PATIENT))]
"""A patient joins, lists, leaves and accepts for themselves only (their token's sub)."""
Readers = Annotated[Principal, Depends(require(*STAFF, Role.AUDITOR, Role.PATIENT))]
EntryStatus = Literal["waiting", "offered", "booked", "left"]
IN_LINE = Keyset((("position", "bigint"), ("entry_id", "uuid")))


class Joining(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patient_id: UUID
    practitioner_id: UUID
    from_date: Day
    to_date: Day


@router.post("", status_code=201)
async def join(body: Joining, request: Request, principal: StaffOrPatient) -> Response:
    if not may_read_patient(principal, body.patient_id):
        raise Forbidden("a patient puts only themselves on a waitlist")
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: waitlist_service.join(
            s, uuid4(), body.patient_id, body.practitioner_id, body.from_date, body.to_date
        ),
        status_code=201,
    )


@router.get("")
async def list_waitlist(
    request: Request,
    principal: Readers,
    practitioner_id: UUID | None = None,
    patient_id: UUID | None = None,
    status: EntryStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
    min_position: MinPosition = None,
) -> Response:
    """In line order (the order entries joined), with the last slot offered to each."""
    patient_id = listed_patient(principal, patient_id)
    async with read_model(request, principal, WAITLIST_ENTRIES.name, min_position) as (conn, at):
        body = await page(
            conn,
            "SELECT * FROM rm_waitlist",
            "($1::uuid IS NULL OR practitioner_id = $1)"
            " AND ($2::uuid IS NULL OR patient_id = $2)"
            " AND ($3::text IS NULL OR status = $3)",
            (practitioner_id, patient_id, status),
            IN_LINE,
            cursor,
            limit,
            WAITLIST_ENTRIES.view_of,
        )
    return read_model_response(body, at)


async def _row(
    request: Request, principal: Principal, column: str, value: UUID, what: str
) -> tuple[UUID, UUID]:
    """(practitioner, patient) of the entry or offer, from the read model: the stream it is
    on. A patient finds only their own. (Plain UUIDs: asyncpg's own are no JSON.)"""
    async with read_model(request, principal, WAITLIST_ENTRIES.name, None) as (conn, _):
        row = await conn.fetchrow(
            f"SELECT practitioner_id, patient_id FROM rm_waitlist WHERE {column} = $1", value
        )
    if row is None or not may_read_patient(principal, row["patient_id"]):
        raise NotFound(f"{what} {value} not found")
    return UUID(str(row["practitioner_id"])), UUID(str(row["patient_id"]))


@router.delete("/{entry_id}")
async def leave(entry_id: UUID, request: Request, principal: StaffOrPatient) -> Response:
    """Off the list; an offer open to the entry passes to the next in line."""
    practitioner_id, _ = await _row(request, principal, "entry_id", entry_id, "waitlist entry")
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: waitlist_service.leave(s, practitioner_id, entry_id),
    )


@router.post("/offers/{offer_id}/accept", status_code=201)
async def accept(offer_id: UUID, request: Request, principal: StaffOrPatient) -> Response:
    """Books the offered slot for its patient: an appointment, `confirmed` at once."""
    practitioner_id, _ = await _row(request, principal, "offer_id", offer_id, "offer")
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: waitlist_service.accept(s, practitioner_id, offer_id, uuid4()),
        status_code=201,
    )
