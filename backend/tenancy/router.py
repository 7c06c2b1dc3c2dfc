"""HTTP routes of the tenancy context."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from backend.api.commands import execute
from backend.api.deps import require, tenant_of
from backend.api.paging import Cursor, Keyset, Limit, page
from backend.api.query import declared_query_only
from backend.api.reads import (
    MinPosition,
    json_response,
    read_model,
    read_model_response,
    read_one,
)
from backend.api.types import AS_WHOLE, Instant, Text, Whole
from backend.api.versions import TOKEN_DEFAULT
from backend.auth import api_keys as credentials
from backend.auth.principal import BACK_OFFICE, STAFF, Principal, Role
from backend.auth.scopes import SCOPES
from backend.kernel.errors import NotFound
from backend.loading import fold_stream
from backend.tenancy import api_keys, model, service
from backend.tenancy.projections import PRACTITIONERS

router = APIRouter(prefix="/v1", tags=["tenancy"], dependencies=[Depends(declared_query_only)])
Staff = Annotated[Principal, Depends(require(*STAFF))]
PerMinute = Annotated[int, Field(ge=1, le=credentials.MAX_PER_MINUTE), AS_WHOLE]
"""A rate: the bounds on the number itself, so that the OpenAPI document shows them."""


class NewTenant(BaseModel):
    name: Text = Field(min_length=1, max_length=200)
    slug: Text = Field(min_length=1, max_length=63)
    kind: Literal["clinic", "hospital"] = "clinic"
    currency: Text = Field(default="USD", description="ISO 4217 code")


class PolicyChanges(BaseModel):
    """Any subset of the tenant's policy settings (see docs/API.md)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["clinic", "hospital"] | None = None
    currency: Text | None = None
    timezone: Text | None = None
    phone_region: Text | None = Field(default=None, description="ISO 3166-1 alpha-2, e.g. US")
    checkin_opens_before_min: Whole | None = None
    checkin_closes_after_min: Whole | None = None
    late_charting_max_hours: Whole | None = None
    discount_threshold_percent: Text | None = None
    invoice_max_total: Text | None = Field(default=None, description="decimal string")
    quiet_hours_start: Text | None = Field(default=None, description="HH:MM")
    quiet_hours_end: Text | None = Field(default=None, description="HH:MM")
    results_auto_release_days: Whole | None = Field(
        default=None, description="0 to 365; 0: a clinician releases each result"
    )
    patient_double_booking: Literal["refuse", "warn"] | None = None
    waitlist_offer_minutes: Whole | None = Field(
        default=None, description="1 to 1440: how long a waitlist offer waits for its patient"
    )
    api_rate_limit_per_minute: PerMinute | None = Field(
        default=None, description="requests a minute per API key (docs/partners.md)"
    )
    api_tenant_rate_limit_per_minute: PerMinute | None = Field(
        default=None, description="requests a minute of all the tenant's API keys together"
    )
    break_glass_required: bool | None = None
    hold_minutes: Whole | None = Field(
        default=None, description="1 to 1440: how long a hold on a slot lasts unconfirmed"
    )
    no_show_after_min: Whole | None = Field(
        default=None,
        description="0 to 1440 minutes after the start an appointment nobody checked in for "
        "becomes a no-show by itself; null turns it off",
    )


NULLABLE = frozenset({"no_show_after_min"})
"""Policy settings whose null is a value (off), changed when sent as null."""


class NewPractitioner(BaseModel):
    name: Text = Field(min_length=1, max_length=200)
    specialty: Text | None = Field(default=None, max_length=100)


@router.post("/tenants", status_code=201)
async def create_tenant(
    body: NewTenant,
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.PLATFORM_ADMIN))],
) -> Response:
    settings = request.app.state.settings
    return await execute(
        request,
        principal,
        uuid4(),
        lambda s: service.create_tenant(
            s,
            body.name,
            body.slug,
            settings.checkin_opens_before_min,
            settings.checkin_closes_after_min,
            body.kind,
            body.currency,
        ),
        status_code=201,
    )


@router.get("/tenant")
async def get_tenant(
    request: Request,
    principal: Annotated[Principal, Depends(require(*STAFF, *BACK_OFFICE))],
) -> Response:
    """The caller's tenant with its policy, folded from its stream (always current)."""
    store = request.app.state.store
    tenant_id = tenant_of(principal)
    async with store.transaction(tenant_id) as conn:
        tenant = await fold_stream(conn, model.TENANT, tenant_id)
    if tenant.version == 0:
        raise NotFound("tenant not found")
    body = {**model.tenant_view(tenant.state), "version": tenant.version}
    return json_response(body, {"ETag": f'"{tenant.version}"'})


@router.patch("/tenant/policy")
async def change_policy(
    body: PolicyChanges,
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.CLINIC_ADMIN))],
) -> Response:
    changes = body.model_dump(exclude_none=True)
    changes |= {
        name: None for name in NULLABLE & body.model_fields_set if changes.get(name) is None
    }
    return await execute(
        request, principal, tenant_of(principal), lambda s: service.change_policy(s, changes)
    )


@router.post("/practitioners", status_code=201)
async def register_practitioner(
    body: NewPractitioner,
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.CLINIC_ADMIN))],
) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.register_practitioner(s, uuid4(), body.name, body.specialty),
        status_code=201,
    )


@router.get("/practitioners/{practitioner_id}")
async def get_practitioner(
    practitioner_id: UUID, request: Request, principal: Staff, min_position: MinPosition = None
) -> Response:
    return await read_one(
        request,
        principal,
        PRACTITIONERS,
        practitioner_id,
        min_position,
        "practitioner",
    )


BY_NAME = Keyset((("name", "text"), ("practitioner_id", "uuid")))


@router.get("/practitioners")
async def list_practitioners(
    request: Request,
    principal: Staff,
    limit: Limit = 50,
    cursor: Cursor = None,
    min_position: MinPosition = None,
) -> Response:
    """The tenant's practitioners by name (the front desk's columns), `limit` at a time."""
    async with read_model(request, principal, PRACTITIONERS.name, min_position) as (conn, at):
        body = await page(
            conn,
            "SELECT * FROM rm_practitioners",
            "true",
            [],
            BY_NAME,
            cursor,
            limit,
            PRACTITIONERS.view_of,
        )
    return read_model_response(body, at)


Admin = Annotated[Principal, Depends(require(Role.CLINIC_ADMIN))]
DEFAULT_OVERLAP_HOURS = 24


class NewApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text = Field(min_length=1, max_length=api_keys.NAME_MAX)
    scopes: list[Text] = Field(
        min_length=1, max_length=len(SCOPES), description="see docs/partners.md"
    )
    api_version: Text | None = Field(
        default=None, description="a dated version; default the newest"
    )
    expires_at: Instant | None = None
    rate_limit_per_minute: PerMinute | None = Field(
        default=None, description="requests a minute; default the tenant's policy"
    )


class Rotation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overlap_hours: Annotated[int, Field(ge=0, le=24 * 30), AS_WHOLE] | None = Field(
        default=None,
        description=f"hours the old secret still works (default {DEFAULT_OVERLAP_HOURS}; 0: none)",
    )


@router.post("/api-keys", status_code=201)
async def create_api_key(body: NewApiKey, request: Request, principal: Admin) -> Response:
    """A key for a partner system: its secret (`key`) is in this response only."""
    key_id = uuid4()
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.create_api_key(
            s,
            key_id,
            body.name,
            body.scopes,
            body.api_version or TOKEN_DEFAULT,
            body.expires_at,
            body.rate_limit_per_minute,
        ),
        status_code=201,
    )


@router.get("/api-keys")
async def list_api_keys(request: Request, principal: Admin) -> Response:
    """Every key of the tenant, revoked ones too, without secrets: folded from the tenant's
    stream (always current), with when each was last used."""
    store = request.app.state.store
    async with store.transaction(tenant_of(principal)) as conn:
        tenant = await fold_stream(conn, model.TENANT, tenant_of(principal))
        keys = tenant.state.api_keys
        used = await credentials.last_used(conn, [UUID(k["id"]) for k in keys])
    now = dt.datetime.now(dt.UTC)
    items = [api_keys.listed(k, used.get(UUID(k["id"])), now) for k in keys]
    return json_response({"items": items, "next_cursor": None})


@router.post("/api-keys/{key_id}/rotate")
async def rotate_api_key(
    key_id: UUID, request: Request, principal: Admin, body: Rotation | None = None
) -> Response:
    """A new secret (in this response only); the old one works for `overlap_hours` more."""
    hours = (
        DEFAULT_OVERLAP_HOURS if body is None or body.overlap_hours is None else body.overlap_hours
    )
    overlap = dt.timedelta(hours=hours)
    response = await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.rotate_api_key(s, key_id, overlap),
    )
    await request.app.state.key_changes.announce(key_id)  # its old secret may end now
    return response


@router.delete("/api-keys/{key_id}")
async def revoke_api_key(key_id: UUID, request: Request, principal: Admin) -> Response:
    """Revoked at once: the next request with it is 401 (in every API process: see
    backend/api/key_changes.py)."""
    response = await execute(
        request, principal, tenant_of(principal), lambda s: service.revoke_api_key(s, key_id)
    )
    await request.app.state.key_changes.announce(key_id)
    return response
