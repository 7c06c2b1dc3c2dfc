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
from backend.api.reads import all_views, json_response, read_stream_view
from backend.api.types import Text
from backend.auth.principal import STAFF, Principal, Role
from backend.kernel.errors import Invalid
from backend.patients import model, service

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


@router.get("/{patient_id}")
async def get_patient(patient_id: UUID, request: Request, principal: Readers) -> Response:
    return await read_stream_view(request, principal, model.PATIENT, patient_id)


@router.get("")
async def search_patients(
    request: Request,
    principal: Readers,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Response:
    after = _decode_cursor(cursor)
    views = [
        v
        for v in await all_views(request, principal, model.PATIENT)
        if (after is None or v["id"] > after) and _matches(v, q)
    ]
    page = views[:limit]
    more = len(views) > limit
    return json_response(
        {"items": page, "next_cursor": _encode_cursor(page[-1]["id"]) if more else None}
    )


def _matches(view: dict[str, Any], q: str | None) -> bool:
    if not q:
        return True
    needle = q.casefold().strip()
    name = f"{view['given_name']} {view['family_name']}".casefold()
    digits = "".join(c for c in needle if c.isdigit())
    phone = "".join(c for c in (view["phone"] or "") if c.isdigit())
    return needle in name or bool(digits and digits in phone)


def _encode_cursor(last_id: UUID) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> UUID | None:
    if not cursor:
        return None
    try:
        return UUID(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except ValueError as e:
        raise Invalid("cursor", "not a cursor this API issued") from e
