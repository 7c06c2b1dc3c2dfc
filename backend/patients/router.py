"""HTTP routes of the patients context."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from backend.api.commands import execute
from backend.api.deps import require, tenant_of
from backend.api.reads import MinPosition, read_model, read_model_response, read_one
from backend.api.types import Text
from backend.auth.principal import STAFF, Principal, Role
from backend.kernel.errors import Invalid
from backend.patients import service
from projections.read_models import PATIENTS

router = APIRouter(prefix="/v1/patients", tags=["patients"])
Writers = Annotated[Principal, Depends(require(*STAFF))]
Readers = Annotated[Principal, Depends(require(*STAFF, Role.AUDITOR))]
Sex = Literal["female", "male", "other", "unknown"]


class NewPatient(BaseModel):
    model_config = ConfigDict(extra="forbid")
    given_name: Text = Field(min_length=1, max_length=100)
    family_name: Text = Field(min_length=1, max_length=100)
    birth_date: dt.date
    sex: Sex
    phone: Text | None = Field(default=None, max_length=32)
    email: Text | None = Field(default=None, max_length=254)
    specialty_data: dict[str, Any] | None = None


class PatientChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")
    given_name: Text | None = Field(default=None, min_length=1, max_length=100)
    family_name: Text | None = Field(default=None, min_length=1, max_length=100)
    birth_date: dt.date | None = None
    sex: Sex | None = None
    phone: Text | None = Field(default=None, max_length=32)
    email: Text | None = Field(default=None, max_length=254)
    specialty_data: dict[str, Any] | None = None


@router.post("", status_code=201)
async def register_patient(body: NewPatient, request: Request, principal: Writers) -> Response:
    details = body.model_dump()
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.register_patient(s, uuid4(), details),
        status_code=201,
    )


@router.patch("/{patient_id}")
async def change_patient(
    patient_id: UUID, body: PatientChanges, request: Request, principal: Writers
) -> Response:
    changes = body.model_dump(exclude_unset=True)
    for required in ("given_name", "family_name", "birth_date", "sex"):
        if required in changes and changes[required] is None:
            raise Invalid(required, "cannot be removed")
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.change_details(s, patient_id, changes),
    )


class Erasure(BaseModel):
    reason: Text = Field(min_length=1, max_length=500)


@router.post("/{patient_id}/erase")
async def erase_patient(
    patient_id: UUID,
    body: Erasure,
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.CLINIC_ADMIN))],
) -> Response:
    """Erase the patient's personal data (crypto-shredding): their events remain and still
    verify, but every personal field reads as redacted from now on, everywhere."""
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.erase(s, patient_id, body.reason),
    )


@router.get("/{patient_id}")
async def get_patient(
    patient_id: UUID, request: Request, principal: Readers, min_position: MinPosition = None
) -> Response:
    return await read_one(request, principal, PATIENTS, patient_id, min_position, "patient")


@router.get("")
async def search_patients(
    request: Request,
    principal: Readers,
    q: Annotated[Text | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    min_position: MinPosition = None,
) -> Response:
    """Patients whose name contains `q` (any case) or whose phone contains its digits, in a
    stable order, `limit` at a time."""
    needle = (q or "").casefold().strip()
    digits = "".join(c for c in needle if c.isdigit())
    async with read_model(request, principal, PATIENTS.name, min_position) as (conn, position):
        rows = await conn.fetch(
            "SELECT * FROM rm_patients"
            " WHERE ($1 = '' OR search_name LIKE $2 ESCAPE '\\'"
            "        OR ($3 <> '' AND phone_digits LIKE $4))"
            " AND ($5::uuid IS NULL OR patient_id > $5)"
            " ORDER BY patient_id LIMIT $6",
            needle,
            f"%{_like_escape(needle)}%",
            digits,
            f"%{digits}%",
            _decode_cursor(cursor),
            limit + 1,
        )
    page = [PATIENTS.view_of(r) for r in rows[:limit]]
    more = len(rows) > limit
    body = {"items": page, "next_cursor": _encode_cursor(page[-1]["id"]) if more else None}
    return read_model_response(body, position)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _encode_cursor(last_id: UUID) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> UUID | None:
    if not cursor:
        return None
    try:
        return UUID(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except ValueError as e:
        raise Invalid("cursor", "not a cursor this API issued") from e
