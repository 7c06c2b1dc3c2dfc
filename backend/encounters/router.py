"""HTTP routes of the visits context."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

import asyncpg
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from backend.api.commands import execute
from backend.api.deps import require, tenant_of
from backend.api.reads import MinPosition, read_model, read_model_response, read_one
from backend.api.types import Instant, Text
from backend.auth.principal import STAFF, Principal, Role
from backend.encounters import service
from backend.encounters.projections import VISITS
from backend.encounters.vitals import Readings

router = APIRouter(prefix="/v1/visits", tags=["visits"])
Staff = Annotated[Principal, Depends(require(*STAFF))]
Clinicians = Annotated[Principal, Depends(require(Role.DOCTOR, Role.NURSE))]
Doctor = Annotated[Principal, Depends(require(Role.DOCTOR))]
Collectors = Annotated[Principal, Depends(require(Role.NURSE, Role.LAB_TECHNICIAN))]
LabTech = Annotated[Principal, Depends(require(Role.LAB_TECHNICIAN))]
Readers = Annotated[Principal, Depends(require(*STAFF, Role.AUDITOR))]
OneReader = Annotated[Principal, Depends(require(*STAFF, Role.AUDITOR, Role.PATIENT))]
NOTE_MAX = 20_000
SHORT = 200
LONG = 2_000


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewVisit(Body):
    patient_id: UUID
    practitioner_id: UUID
    appointment_id: UUID | None = None
    reason: Text | None = Field(default=None, max_length=500)
    specialty_data: dict[str, Any] | None = Field(
        default=None, description="{plugin: {field: value}} for the tenant's enabled specialties"
    )


class Note(Body):
    subjective: Text = Field(max_length=NOTE_MAX)
    objective: Text = Field(max_length=NOTE_MAX)
    assessment: Text = Field(max_length=NOTE_MAX)
    plan: Text = Field(max_length=NOTE_MAX)


class Service(Body):
    code: Text = Field(min_length=1, max_length=50)
    description: Text = Field(min_length=1, max_length=SHORT)
    quantity: int
    unit_price: Text = Field(max_length=32, description='decimal string, e.g. "12.50"')


class Addendum(Body):
    text: Text = Field(min_length=1, max_length=NOTE_MAX)


class Vitals(Body):
    occurred_at: Instant | None = Field(
        default=None, description="when taken; in the past within the late-charting policy"
    )
    heart_rate: int | None = None
    systolic: int | None = None
    diastolic: int | None = None
    temperature_c: Decimal | None = Field(default=None, max_digits=6, decimal_places=2)
    respiratory_rate: int | None = None
    spo2: int | None = None
    weight_kg: Decimal | None = Field(default=None, max_digits=6, decimal_places=2)
    height_cm: Decimal | None = Field(default=None, max_digits=6, decimal_places=2)


class Prescription(Body):
    medication: Text = Field(min_length=1, max_length=SHORT)
    dose: Text = Field(min_length=1, max_length=SHORT)
    route: Text = Field(min_length=1, max_length=SHORT)
    frequency: Text = Field(min_length=1, max_length=SHORT)
    duration_days: int | None = None


class LabOrder(Body):
    test_code: Text = Field(min_length=1, max_length=50)
    test_name: Text = Field(min_length=1, max_length=SHORT)


class LabResult(Body):
    value: Text = Field(min_length=1, max_length=LONG)
    unit: Text | None = Field(default=None, max_length=50)
    reference_range: Text | None = Field(default=None, max_length=SHORT)
    abnormal: bool
    comment: Text | None = Field(default=None, max_length=LONG)


@router.post("", status_code=201)
async def open_visit(body: NewVisit, request: Request, principal: Staff) -> Response:
    walk_in_id = uuid4()
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.open_visit(
            s,
            body.patient_id,
            body.practitioner_id,
            body.appointment_id,
            body.reason,
            walk_in_id,
            body.specialty_data,
        ),
        status_code=201,
    )


@router.put("/{visit_id}/note")
async def draft_note(
    visit_id: UUID, body: Note, request: Request, principal: Clinicians
) -> Response:
    sections = body.model_dump()
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.draft_note(s, visit_id, sections),
    )


@router.post("/{visit_id}/services")
async def add_service(
    visit_id: UUID, body: Service, request: Request, principal: Staff
) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.add_service(
            s, visit_id, body.code, body.description, body.quantity, body.unit_price
        ),
    )


@router.post("/{visit_id}/sign-off")
async def sign_off(visit_id: UUID, request: Request, principal: Staff) -> Response:
    """Any staff member reaches the rule; only the owning doctor passes it (NOT_VISIT_OWNER)."""
    return await execute(
        request, principal, tenant_of(principal), lambda s: service.sign_off(s, visit_id)
    )


@router.post("/{visit_id}/addenda")
async def add_addendum(
    visit_id: UUID, body: Addendum, request: Request, principal: Clinicians
) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.add_addendum(s, visit_id, body.text),
    )


@router.post("/{visit_id}/vitals")
async def record_vitals(
    visit_id: UUID, body: Vitals, request: Request, principal: Clinicians
) -> Response:
    readings = Readings(**body.model_dump(exclude={"occurred_at"}))
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.record_vitals(s, visit_id, body.occurred_at, readings),
    )


@router.post("/{visit_id}/prescriptions")
async def issue_prescription(
    visit_id: UUID, body: Prescription, request: Request, principal: Doctor
) -> Response:
    prescription_id = uuid4()
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.issue_prescription(
            s,
            visit_id,
            prescription_id,
            body.medication,
            body.dose,
            body.route,
            body.frequency,
            body.duration_days,
        ),
    )


@router.post("/{visit_id}/lab-orders")
async def order_lab(
    visit_id: UUID, body: LabOrder, request: Request, principal: Doctor
) -> Response:
    order_id = uuid4()
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.order_lab(s, visit_id, order_id, body.test_code, body.test_name),
    )


@router.post("/{visit_id}/lab-orders/{order_id}/collect")
async def collect_specimen(
    visit_id: UUID, order_id: UUID, request: Request, principal: Collectors
) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.collect_specimen(s, visit_id, order_id),
    )


@router.post("/{visit_id}/lab-orders/{order_id}/result")
async def report_result(
    visit_id: UUID, order_id: UUID, body: LabResult, request: Request, principal: LabTech
) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.report_result(
            s,
            visit_id,
            order_id,
            body.value,
            body.unit,
            body.reference_range,
            body.abnormal,
            body.comment,
        ),
    )


@router.get("/{visit_id}")
async def get_visit(
    visit_id: UUID, request: Request, principal: OneReader, min_position: MinPosition = None
) -> Response:
    """A patient reads only their own visits; any other is 404 to them."""
    return await read_one(
        request,
        principal,
        VISITS,
        visit_id,
        min_position,
        "visit",
        lambda row: _may_read(principal, row),
    )


@router.get("")
async def list_visits(
    request: Request,
    principal: Readers,
    patient_id: UUID | None = None,
    status: Literal["open", "signed"] | None = None,
    min_position: MinPosition = None,
) -> Response:
    async with read_model(request, principal, VISITS.name, min_position) as (conn, at):
        rows = await conn.fetch(
            "SELECT * FROM rm_visits WHERE ($1::uuid IS NULL OR patient_id = $1)"
            " AND ($2::text IS NULL OR status = $2)"
            " ORDER BY opened_at DESC, visit_id",
            patient_id,
            status,
        )
    return read_model_response({"items": [VISITS.view_of(r) for r in rows]}, at)


def _may_read(principal: Principal, row: asyncpg.Record) -> bool:
    if principal.has_any(frozenset({*STAFF, Role.AUDITOR})):
        return True
    return str(row["patient_id"]) == principal.actor
