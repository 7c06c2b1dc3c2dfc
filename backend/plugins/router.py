"""HTTP routes of the plugins context: the registry, a tenant's specialties, plugin events."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from backend.api.commands import execute
from backend.api.deps import require, tenant_of
from backend.api.reads import MinPosition, json_response, read_model, read_model_response
from backend.api.types import Instant, Text
from backend.auth.principal import BACK_OFFICE, STAFF, Principal, Role
from backend.kernel.errors import NotFound
from backend.loading import fold_stream
from backend.plugins import registry, service
from backend.plugins.config import ui_config
from backend.plugins.projections import CHECKLISTS
from backend.tenancy.model import TENANT

router = APIRouter(prefix="/v1", tags=["specialties"])
Readers = Annotated[Principal, Depends(require(*STAFF, *BACK_OFFICE, Role.PLATFORM_ADMIN))]
Clinicians = Annotated[Principal, Depends(require(Role.DOCTOR, Role.NURSE))]
Name = Annotated[Text, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]


class Specialties(BaseModel):
    model_config = ConfigDict(extra="forbid")
    specialties: list[Name] = Field(max_length=50)


class SpecialtyEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plugin: Name
    type: Name
    data: dict[str, Any] = Field(default_factory=dict)
    occurred_at: Instant | None = Field(
        default=None, description="when it happened, if earlier (late-charting policy)"
    )


@router.get("/specialties")
async def list_specialties(request: Request, principal: Readers) -> Response:
    """Every plugin folder: loaded (name, version) or invalid (its problems); `enabled` says
    whether the caller's tenant uses it."""
    enabled = await _enabled(request, principal)
    items = [
        {**row, "enabled": row["name"] in enabled} for row in registry.active().catalog.status()
    ]
    return json_response({"items": items})


@router.get("/specialties/{name}/config")
async def specialty_config(name: str, principal: Readers) -> Response:
    """What the front end renders for the specialty: header fields, timeline categories,
    sidebar sections, fields, event types, trajectory, workflows, calculators, reports."""
    plugin = registry.active().catalog.plugins.get(name)
    if plugin is None:
        raise NotFound(f"specialty {name!r} is not loaded")
    return json_response(ui_config(plugin))


@router.post("/specialties/reload")
async def reload_specialties(
    principal: Annotated[Principal, Depends(require(Role.PLATFORM_ADMIN))],
) -> Response:
    """Read the plugins directory again (e.g. after a manifest was fixed)."""
    # Parsing, schema checks and plugin modules take a while: off the event loop.
    catalog = await asyncio.to_thread(registry.active().reload)
    return json_response({"items": catalog.status()})


@router.put("/tenant/specialties")
async def enable_specialties(
    body: Specialties,
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.CLINIC_ADMIN))],
) -> Response:
    """The full set of specialties the tenant uses (an empty list disables all)."""
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.enable_specialties(s, body.specialties),
    )


@router.post("/visits/{visit_id}/specialty-events")
async def record_visit_event(
    visit_id: UUID, body: SpecialtyEvent, request: Request, principal: Clinicians
) -> Response:
    return await _record(request, principal, "visit", visit_id, body)


@router.post("/admissions/{admission_id}/specialty-events")
async def record_admission_event(
    admission_id: UUID, body: SpecialtyEvent, request: Request, principal: Clinicians
) -> Response:
    return await _record(request, principal, "admission", admission_id, body)


async def _record(
    request: Request, principal: Principal, target: str, stream_id: UUID, body: SpecialtyEvent
) -> Response:
    record_id = uuid4()
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.record_event(
            s, target, stream_id, body.plugin, body.type, body.data, body.occurred_at, record_id
        ),
    )


@router.post("/checklists/{checklist_id}/steps/{step}")
async def complete_step(
    checklist_id: UUID,
    step: Name,
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.DOCTOR, Role.NURSE, Role.CLINIC_ADMIN))],
) -> Response:
    """Tick a checkbox step or give an approval (approvers restricted by the step's roles:
    403 NOT_AN_APPROVER)."""
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.complete_step(s, checklist_id, step),
    )


@router.get("/checklists")
async def list_checklists(
    request: Request,
    principal: Annotated[Principal, Depends(require(*STAFF, Role.AUDITOR))],
    patient_id: UUID | None = None,
    subject_id: Annotated[UUID | None, Query(description="an admission or visit id")] = None,
    status: Literal["open", "complete"] | None = None,
    min_position: MinPosition = None,
) -> Response:
    """Checklists by patient and/or admission or visit, optionally only open ones."""
    async with read_model(request, principal, CHECKLISTS.name, min_position) as (conn, at):
        rows = await conn.fetch(
            "SELECT * FROM rm_checklists WHERE ($1::uuid IS NULL OR patient_id = $1)"
            " AND ($2::uuid IS NULL OR subject_id = $2)"
            " AND ($3::text IS NULL OR status = $3) ORDER BY plugin, workflow, checklist_id",
            patient_id,
            subject_id,
            status,
        )
    return read_model_response({"items": [CHECKLISTS.view_of(r) for r in rows]}, at)


async def _enabled(request: Request, principal: Principal) -> frozenset[str]:
    if principal.tenant_id is None:
        return frozenset()
    async with request.app.state.store.transaction(principal.tenant_id) as conn:
        tenant = await fold_stream(conn, TENANT, principal.tenant_id)
    return frozenset(tenant.state.specialties)
