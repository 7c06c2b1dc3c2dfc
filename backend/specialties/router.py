"""HTTP routes of the plugins context: the registry, a tenant's specialties, plugin events."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from backend.api.commands import execute
from backend.api.deps import require, tenant_of
from backend.api.openapi import NOT_A_COMMAND
from backend.api.paging import Cursor, Keyset, Limit, page
from backend.api.query import declared_query_only
from backend.api.reads import MinPosition, json_response, read_model, read_model_response
from backend.api.types import Instant
from backend.auth.principal import BACK_OFFICE, STAFF, Principal, Role
from backend.kernel.errors import NotFound
from backend.loading import fold_stream
from backend.specialties import extension, registry, service
from backend.specialties.config import ui_config
from backend.specialties.projections import CHECKLISTS, WORKLIST
from backend.tenancy.model import TENANT

router = APIRouter(prefix="/v1", tags=["specialties"])
Readers = Annotated[Principal, Depends(require(*STAFF, *BACK_OFFICE, Role.PLATFORM_ADMIN))]
Clinicians = Annotated[Principal, Depends(require(Role.DOCTOR, Role.NURSE))]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
DECLARED_ONLY = [Depends(declared_query_only)]
"""On the routes under a visit or an admission, whose own routers refuse unknown parameters."""


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


class SpecialtyDataChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    specialty_data: dict[str, Any] = Field(
        description="{plugin: {field: value}} merged over what the visit or admission has: a "
        "field given as null is removed, a plugin given as null loses all its fields"
    )
    occurred_at: Instant | None = Field(
        default=None,
        description="when the values were true (a sample taken earlier), if earlier than now "
        "(late-charting policy)",
    )


@router.get("/specialties")
async def list_specialties(request: Request, principal: Readers) -> Response:
    """Every plugin folder: loaded (name, version), invalid (its problems) or serving its
    previous version (its new manifest's problems); `enabled` says whether the caller's
    tenant's writes accept it now (enabled by the tenant and serving)."""
    plugins = registry.active()
    enabled = plugins.catalog.serving(await _chosen(request, principal))
    items = [
        {**row, "enabled": row["name"] in enabled}
        for row in plugins.catalog.status(plugins.workers)
    ]
    return json_response({"items": items, "next_cursor": None})  # one page: the server's plugins


@router.get("/specialties/{name}/config")
async def specialty_config(name: str, principal: Readers) -> Response:
    """What the front end renders for the specialty: header fields, timeline categories,
    sidebar sections, fields, event types, trajectory, workflows, calculators, reports."""
    plugin = registry.active().catalog.plugins.get(name)
    if plugin is None:
        raise NotFound(f"specialty {name!r} is not loaded")
    return json_response(ui_config(plugin))


@router.post("/specialties/reload", openapi_extra={NOT_A_COMMAND: True})
async def reload_specialties(
    principal: Annotated[Principal, Depends(require(Role.PLATFORM_ADMIN))],
) -> Response:
    """Read the plugins directory again (e.g. after a manifest was fixed)."""
    # Parsing, schema checks and plugin modules take a while: off the event loop.
    plugins = registry.active()
    catalog = await asyncio.to_thread(plugins.reload)
    return json_response({"items": catalog.status(plugins.workers)})


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


@router.post("/visits/{visit_id}/specialty-events", dependencies=DECLARED_ONLY)
async def record_visit_event(
    visit_id: UUID, body: SpecialtyEvent, request: Request, principal: Clinicians
) -> Response:
    return await _record(request, principal, "visit", visit_id, body)


@router.post("/admissions/{admission_id}/specialty-events", dependencies=DECLARED_ONLY)
async def record_admission_event(
    admission_id: UUID, body: SpecialtyEvent, request: Request, principal: Clinicians
) -> Response:
    return await _record(request, principal, "admission", admission_id, body)


@router.patch("/visits/{visit_id}/specialty-data", dependencies=DECLARED_ONLY)
async def change_visit_data(
    visit_id: UUID, body: SpecialtyDataChange, request: Request, principal: Clinicians
) -> Response:
    """Until sign-off (409 VISIT_CLOSED after): the visit's specialty data changes, its
    calculations run again; returns the visit with `warnings`."""
    return await _change(request, principal, "visit", visit_id, body)


@router.patch("/admissions/{admission_id}/specialty-data", dependencies=DECLARED_ONLY)
async def change_admission_data(
    admission_id: UUID, body: SpecialtyDataChange, request: Request, principal: Clinicians
) -> Response:
    """Until discharge (409 ADMISSION_CLOSED after), as for a visit."""
    return await _change(request, principal, "admission", admission_id, body)


async def _change(
    request: Request,
    principal: Principal,
    target: str,
    stream_id: UUID,
    body: SpecialtyDataChange,
) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: extension.change_stream_data(
            s, target, stream_id, body.specialty_data, body.occurred_at
        ),
    )


async def _record(
    request: Request, principal: Principal, target: str, stream_id: UUID, body: SpecialtyEvent
) -> Response:
    record_id = uuid4()
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: extension.record_event(
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


BY_WORKFLOW = Keyset((("plugin", "text"), ("workflow", "text"), ("checklist_id", "uuid")))


@router.get("/checklists")
async def list_checklists(
    request: Request,
    principal: Annotated[Principal, Depends(require(*STAFF, Role.AUDITOR))],
    patient_id: UUID | None = None,
    subject_id: Annotated[UUID | None, Query(description="an admission or visit id")] = None,
    status: Literal["open", "complete", "closed"] | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
    min_position: MinPosition = None,
) -> Response:
    """Checklists by patient and/or admission or visit, optionally only open ones."""
    async with read_model(request, principal, CHECKLISTS.name, min_position) as (conn, at):
        body = await page(
            conn,
            "SELECT * FROM rm_checklists",
            "($1::uuid IS NULL OR patient_id = $1) AND ($2::uuid IS NULL OR subject_id = $2)"
            " AND ($3::text IS NULL OR status = $3)",
            (patient_id, subject_id, status),
            BY_WORKFLOW,
            cursor,
            limit,
            CHECKLISTS.view_of,
        )
    return read_model_response(body, at)


BY_DUE = Keyset(
    (("due_at", "timestamptz"), ("patient_id", "uuid"), ("plugin", "text"), ("recall", "text"))
)


@router.get("/worklist")
async def list_worklist(
    request: Request,
    principal: Annotated[Principal, Depends(require(*STAFF, Role.AUDITOR))],
    plugin: Name | None = None,
    recall: Name | None = None,
    patient_id: UUID | None = None,
    due_by: Annotated[
        Instant | None, Query(description="recalls due by this time (default now)")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
    min_position: MinPosition = None,
) -> Response:
    """The tenant's patients due for a specialty's recall (no foot exam in 12 months, HbA1c
    rising), soonest due first: {patient_id, plugin, recall, name, message, due_at}."""
    due = due_by or dt.datetime.now(dt.UTC)
    async with read_model(request, principal, WORKLIST.name, min_position) as (conn, at):
        body = await page(
            conn,
            "SELECT * FROM rm_worklist",
            "due_at IS NOT NULL AND due_at <= $1 AND ($2::text IS NULL OR plugin = $2)"
            " AND ($3::text IS NULL OR recall = $3) AND ($4::uuid IS NULL OR patient_id = $4)",
            (due, plugin, recall, patient_id),
            BY_DUE,
            cursor,
            limit,
            WORKLIST.view_of,
        )
    return read_model_response(body, at)


async def _chosen(request: Request, principal: Principal) -> frozenset[str]:
    """The specialties the caller's tenant enabled."""
    if principal.tenant_id is None:
        return frozenset()
    async with request.app.state.store.transaction(principal.tenant_id) as conn:
        tenant = await fold_stream(conn, TENANT, principal.tenant_id)
    return frozenset(tenant.state.specialties)
