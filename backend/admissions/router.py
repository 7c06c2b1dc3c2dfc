"""HTTP routes of the admissions context: the commands (reads are in queries.py)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from backend.admissions import service
from backend.admissions.model import Disposition
from backend.admissions.wards import BedState
from backend.api.commands import execute
from backend.api.deps import require, tenant_of
from backend.api.query import declared_query_only
from backend.api.types import Instant, Text
from backend.auth.principal import Principal, Role

router = APIRouter(prefix="/v1", tags=["admissions"], dependencies=[Depends(declared_query_only)])
Admin = Annotated[Principal, Depends(require(Role.CLINIC_ADMIN))]
Admitting = Annotated[Principal, Depends(require(Role.DOCTOR, Role.NURSE, Role.CLINIC_ADMIN))]
Doctor = Annotated[Principal, Depends(require(Role.DOCTOR))]
BedKeepers = Annotated[Principal, Depends(require(Role.NURSE, Role.CLINIC_ADMIN))]
BedLabel = Annotated[Text, Field(min_length=1, max_length=20)]


class NewWard(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text = Field(min_length=1, max_length=100)
    beds: list[BedLabel] = Field(min_length=1, max_length=500)


class NewBeds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    beds: list[BedLabel] = Field(min_length=1, max_length=500)


class WardName(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text = Field(min_length=1, max_length=100)


class NewBedState(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bed: BedLabel
    state: BedState
    reason: Text | None = Field(default=None, max_length=500)


class NewAdmission(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patient_id: UUID
    ward_id: UUID
    bed: BedLabel
    specialty: Text | None = Field(default=None, max_length=100)
    reason: Text = Field(min_length=1, max_length=500)
    admitted_at: Instant | None = Field(
        default=None, description="when the patient was admitted, if earlier (tenant policy)"
    )
    specialty_data: dict[str, Any] | None = Field(
        default=None, description="{plugin: {field: value}} for the tenant's enabled specialties"
    )


class Transfer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ward_id: UUID
    bed: BedLabel
    reason: Text | None = Field(default=None, max_length=500)


class Discharge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disposition: Disposition
    summary: Text | None = Field(default=None, max_length=4000)
    discharged_at: Instant | None = Field(
        default=None, description="when the patient left, if earlier (tenant policy)"
    )


@router.post("/wards", status_code=201)
async def define_ward(body: NewWard, request: Request, principal: Admin) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.define_ward(s, uuid4(), body.name, body.beds),
        status_code=201,
    )


@router.post("/wards/{ward_id}/beds")
async def add_beds(ward_id: UUID, body: NewBeds, request: Request, principal: Admin) -> Response:
    return await execute(
        request, principal, tenant_of(principal), lambda s: service.add_beds(s, ward_id, body.beds)
    )


@router.post("/wards/{ward_id}/rename")
async def rename_ward(
    ward_id: UUID, body: WardName, request: Request, principal: Admin
) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.rename_ward(s, ward_id, body.name),
    )


@router.post("/wards/{ward_id}/close")
async def close_ward(ward_id: UUID, request: Request, principal: Admin) -> Response:
    """An empty ward only (409 WARD_NOT_EMPTY); it then takes no patients."""
    return await execute(
        request, principal, tenant_of(principal), lambda s: service.close_ward(s, ward_id)
    )


@router.post("/wards/{ward_id}/bed-states")
async def set_bed_state(
    ward_id: UUID, body: NewBedState, request: Request, principal: BedKeepers
) -> Response:
    """A free bed out of service (cleaning, blocked) or back (available)."""
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.set_bed_state(s, ward_id, body.bed, body.state, body.reason),
    )


@router.post("/admissions", status_code=201)
async def admit(body: NewAdmission, request: Request, principal: Admitting) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.admit(
            s,
            uuid4(),
            body.patient_id,
            body.ward_id,
            body.bed,
            body.specialty,
            body.reason,
            body.admitted_at,
            body.specialty_data,
        ),
        status_code=201,
    )


@router.post("/admissions/{admission_id}/transfer")
async def transfer(
    admission_id: UUID, body: Transfer, request: Request, principal: Admitting
) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.transfer(s, admission_id, body.ward_id, body.bed, body.reason),
    )


@router.post("/admissions/{admission_id}/discharge")
async def discharge(
    admission_id: UUID, body: Discharge, request: Request, principal: Doctor
) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.discharge(
            s, admission_id, body.disposition, body.summary, body.discharged_at
        ),
    )
