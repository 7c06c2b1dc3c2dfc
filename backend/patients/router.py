"""HTTP routes of the patients context."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from backend.api import access
from backend.api.commands import execute
from backend.api.deps import require, tenant_of
from backend.api.paging import Cursor, Keyset, Limit, page
from backend.api.reads import MinPosition, read_model, read_model_response
from backend.api.types import Day, Instant, Text
from backend.api.versioning import VersionedRoute
from backend.auth.principal import STAFF, Principal, Role
from backend.handling import CommandResult, CommandSession
from backend.kernel import phones
from backend.kernel.errors import Invalid, NotFound
from backend.loading import fold_stream
from backend.patients import service
from backend.patients.names import fold
from backend.patients.projections import PATIENTS
from backend.patients.versions import as_resource, resource
from backend.tenancy.model import TENANT

router = APIRouter(prefix="/v1/patients", tags=["patients"], route_class=VersionedRoute)
Writers = Annotated[Principal, Depends(require(*STAFF))]
Readers = Annotated[Principal, Depends(require(*STAFF, Role.AUDITOR))]
Sex = Literal["female", "male", "other", "unknown"]
Phone = Annotated[
    Text,
    Field(
        min_length=1,
        max_length=40,
        description="as typed; read in the tenant's phone_region unless it starts with +",
    ),
]


class PersonName(BaseModel):
    model_config = ConfigDict(extra="forbid")
    given: Text = Field(min_length=1, max_length=100)
    family: Text = Field(min_length=1, max_length=100)


class NewPatient(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: PersonName
    birth_date: Day
    sex: Sex
    phone: Phone | None = None
    email: Text | None = Field(default=None, max_length=254)
    specialty_data: dict[str, Any] | None = None


def _required_not_null(*names: str) -> Callable[[dict[str, Any]], None]:
    """The schema says what the route refuses: a required detail given as null."""

    def schema_without_null(schema: dict[str, Any]) -> None:
        for name in names:
            choices = schema["properties"][name].pop("anyOf")
            schema["properties"][name].update(next(c for c in choices if c.get("type") != "null"))

    return schema_without_null


REQUIRED_DETAILS = ("name", "birth_date", "sex")


class NameChanges(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra=_required_not_null("given", "family")
    )
    given: Text | None = Field(default=None, min_length=1, max_length=100)
    family: Text | None = Field(default=None, min_length=1, max_length=100)


class PatientChanges(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra=_required_not_null(*REQUIRED_DETAILS)
    )
    name: NameChanges | None = None
    birth_date: Day | None = None
    sex: Sex | None = None
    phone: Phone | None = None
    email: Text | None = Field(default=None, max_length=254)
    specialty_data: dict[str, Any] | None = None
    reason: Text | None = Field(
        default=None, max_length=500, description="why the details change (recorded, sealed)"
    )


@router.post("", status_code=201)
async def register_patient(body: NewPatient, request: Request, principal: Writers) -> Response:
    details = _flat_name(body.model_dump())

    async def register(session: CommandSession) -> CommandResult:
        return as_resource(await service.register_patient(session, uuid4(), details))

    return await execute(request, principal, tenant_of(principal), register, status_code=201)


@router.patch("/{patient_id}")
async def change_patient(
    patient_id: UUID, body: PatientChanges, request: Request, principal: Writers
) -> Response:
    given = body.model_dump(exclude_unset=True, exclude={"reason"})
    for required in REQUIRED_DETAILS:
        if required in given and given[required] is None:
            raise Invalid(required, "cannot be removed")
    for part, value in (given.get("name") or {}).items():
        if value is None:
            raise Invalid(f"name.{part}", "cannot be removed")
    changes = _flat_name(given)

    async def change(session: CommandSession) -> CommandResult:
        changed = await service.change_details(session, patient_id, changes, body.reason)
        return as_resource(changed)

    return await execute(request, principal, tenant_of(principal), change)


def _flat_name(details: dict[str, Any]) -> dict[str, Any]:
    """The details as the domain names them (`given_name`, `family_name`)."""
    name = details.pop("name", None) or {}
    flat = {f"{part}_name": value for part, value in name.items()}
    return {**details, **flat}


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

    async def erase(session: CommandSession) -> CommandResult:
        return as_resource(await service.erase(session, patient_id, body.reason))

    return await execute(request, principal, tenant_of(principal), erase)


class Merge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: UUID = Field(description="the patient kept: this record's duplicate goes on under it")
    reason: Text = Field(min_length=1, max_length=500)


@router.post("/{patient_id}/merge")
async def merge_patient(
    patient_id: UUID,
    body: Merge,
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.CLINIC_ADMIN))],
) -> Response:
    """Merge this duplicate into the patient `into`: search finds only the kept record, the
    duplicate takes nothing new (409 `PATIENT_MERGED`), its records keep its id and the kept
    patient lists it in `merged_from`."""

    async def merge(session: CommandSession) -> CommandResult:
        return as_resource(await service.merge(session, patient_id, body.into, body.reason))

    return await execute(request, principal, tenant_of(principal), merge)


class Death(BaseModel):
    model_config = ConfigDict(extra="forbid")
    died_at: Instant | None = Field(default=None, description="when the patient died (default now)")


@router.post("/{patient_id}/death")
async def record_death(
    patient_id: UUID, request: Request, principal: Writers, body: Death | None = None
) -> Response:
    """Record the patient's death: from then on they are neither booked, admitted nor sent
    any message (409 `PATIENT_DECEASED`)."""
    died_at = body.died_at if body else None

    async def record(session: CommandSession) -> CommandResult:
        return as_resource(await service.record_death(session, patient_id, died_at))

    return await execute(request, principal, tenant_of(principal), record)


@router.get("/{patient_id}")
async def get_patient(
    patient_id: UUID, request: Request, principal: Readers, min_position: MinPosition = None
) -> Response:
    async with read_model(request, principal, PATIENTS.name, min_position) as (conn, at):
        row = await conn.fetchrow("SELECT * FROM rm_patients WHERE patient_id = $1", patient_id)
        region = await _phone_region(conn, principal)
        access.saw_rows([row] if row is not None else [])
    if row is None:
        raise NotFound(f"patient {patient_id} not found")
    return read_model_response(_view(region)(row), at, {"ETag": f'"{row["version"]}"'})


@router.get("")
async def search_patients(
    request: Request,
    principal: Readers,
    q: Annotated[Text | None, Query(max_length=100)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    min_position: MinPosition = None,
) -> Response:
    """Patients whose name contains `q`, whatever its accents, case, punctuation and spaces
    ("garcia" finds García, "oneil" O'Neil) and whichever name comes first, or whose phone
    is the number `q` names in any format, or contains its digits; in a stable order,
    `limit` at a time. Without `q`, every patient."""
    text = (q or "").strip()
    async with read_model(request, principal, PATIENTS.name, min_position) as (conn, position):
        region = await _phone_region(conn, principal)
        where, args = search_filter(text, region)
        body = await page(
            conn,
            "SELECT * FROM rm_patients",
            where,
            args,
            BY_ID,
            cursor,
            limit,
            _view(region),
        )
    return read_model_response(body, position)


BY_ID = Keyset((("patient_id", "uuid"),))


def search_filter(text: str, region: str) -> tuple[str, tuple[Any, ...]]:
    """The rows of rm_patients `text` finds (see `search_patients`), as a WHERE clause and its
    parameters (a scan of the tenant's rows: see docs/benchmarks.md, patient search)."""
    if not text:
        return "true", ()
    key = fold(text)
    forms = [f"%{d}%" for d in phones.digit_forms(text, region)]
    return (
        "search_name LIKE $1 OR phone_digits LIKE ANY($2::text[])",
        (f"%{key}%" if key else None, forms),
    )


async def _phone_region(conn: asyncpg.Connection, principal: Principal) -> str:
    tenant = await fold_stream(conn, TENANT, tenant_of(principal))
    return tenant.state.policy.phone_region


def _view(region: str) -> Callable[[asyncpg.Record], dict[str, Any]]:
    """A row as the API shows it, a phone recorded as typed (before phones were read) in
    E.164 when it reads as a number in the tenant's region."""

    def view(row: asyncpg.Record) -> dict[str, Any]:
        shown = PATIENTS.view_of(row)
        phone = phones.dialable(shown["phone"], region) or shown["phone"]
        return resource({**shown, "phone": phone})

    return view
