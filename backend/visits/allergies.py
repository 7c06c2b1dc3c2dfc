"""A patient's allergies: recorded and removed on their medications stream, read folded from it
(always current), checked by every new prescription (backend/visits/prescribing.py)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from backend.api import access
from backend.api.commands import execute
from backend.api.deps import require, tenant_of
from backend.api.reads import json_response
from backend.api.types import Text
from backend.auth.principal import STAFF, Principal, Role
from backend.handling import CommandResult, CommandSession
from backend.kernel.errors import NotFound
from backend.loading import fold_stream
from backend.patients.model import PATIENT, require_chartable
from backend.visits.patient_medications import (
    PATIENT_MEDICATIONS,
    SEVERITIES,
    medications_stream_id,
    record_allergy,
    remove_allergy,
)

router = APIRouter(prefix="/v1/patients", tags=["visits"])
Recorders = Annotated[Principal, Depends(require(Role.DOCTOR, Role.NURSE, Role.PHARMACIST))]
Readers = Annotated[Principal, Depends(require(*STAFF, Role.PHARMACIST, Role.AUDITOR))]


class NewAllergy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    substance: Text = Field(min_length=1, max_length=200, description="a drug, class or other")
    reaction: Text | None = Field(default=None, max_length=500)
    severity: Text = Field(default="unknown", description=" | ".join(SEVERITIES))


class Removal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text = Field(min_length=1, max_length=500)


@router.post("/{patient_id}/allergies", status_code=201)
async def add_allergy(
    patient_id: UUID, body: NewAllergy, request: Request, principal: Recorders
) -> Response:
    """An allergy on the patient's record; a substance already recorded records nothing."""
    allergy_id = uuid4()

    async def handle(session: CommandSession) -> CommandResult:
        require_chartable(await session.state_of(PATIENT, patient_id))
        record = await session.load(PATIENT_MEDICATIONS, medications_stream_id(patient_id))
        events = record_allergy(
            record.state,
            patient_id,
            allergy_id,
            body.substance,
            body.reaction,
            body.severity,
            session.ctx.principal.actor,
            session.ctx.now,
        )
        return await session.save(record, events)

    return await execute(request, principal, tenant_of(principal), handle, status_code=201)


@router.post("/{patient_id}/allergies/{allergy_id}/remove")
async def remove(
    patient_id: UUID, allergy_id: UUID, body: Removal, request: Request, principal: Recorders
) -> Response:
    """The allergy no longer holds (resolved, or recorded in error): it leaves the list and
    stays in the history."""

    async def handle(session: CommandSession) -> CommandResult:
        record = await session.load(PATIENT_MEDICATIONS, medications_stream_id(patient_id))
        events = remove_allergy(
            record.state,
            patient_id,
            allergy_id,
            body.reason,
            session.ctx.principal.actor,
            session.ctx.now,
        )
        return await session.save(record, events)

    return await execute(request, principal, tenant_of(principal), handle)


@router.get("/{patient_id}/allergies")
async def allergies(patient_id: UUID, request: Request, principal: Readers) -> Response:
    """The patient's current allergies and active prescriptions, folded from their stream."""
    store = request.app.state.store
    async with store.transaction(tenant_of(principal)) as conn:
        patient = await fold_stream(conn, PATIENT, patient_id)
        record = await fold_stream(conn, PATIENT_MEDICATIONS, medications_stream_id(patient_id))
        if patient.version:
            await access.record(conn, request, principal, [patient_id])
    if patient.version == 0:
        raise NotFound(f"patient {patient_id} not found")
    return json_response({**PATIENT_MEDICATIONS.view(record.state), "version": record.version})
