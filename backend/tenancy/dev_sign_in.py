"""Development sign-in for the web app: the tenants, their practitioners and the roles, and a
token for a choice of them.

These routes exist only when `CARETRAIL_ENV=dev` (backend/bootstrap.py mounts them then and
never otherwise: elsewhere they answer 404 like any unknown path, and /openapi.json does not
list them). The secret that signs the token stays in the API; the browser receives the token
only, as it would from the clinic's identity provider.

Listing every tenant crosses tenants, which the runtime role cannot do (RLS), so the list is
read from the store's tenancy events through the projector's pool, whose role reads every
tenant's events and nothing it could change.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import orjson
from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from backend.api.reads import json_response
from backend.auth.principal import Role
from backend.auth.tokens import issue_token
from backend.kernel.errors import Invalid

router = APIRouter(prefix="/v1/dev", tags=["dev sign-in"])

TOKEN_HOURS = 8
"""A shift."""

_TENANCY_EVENTS = """
SELECT tenant_id, stream_id, event_type, data FROM events
 WHERE (stream_type = 'tenant' AND event_type IN ('TenantCreated', 'TenantPolicyChanged'))
    OR (stream_type = 'practitioner' AND event_type = 'PractitionerRegistered')
 ORDER BY tx_id, position
"""


class SignInChoice(BaseModel):
    tenant_id: UUID
    role: Role
    practitioner_id: UUID | None = Field(
        default=None,
        description="who a DOCTOR is: the token's `sub` is this practitioner's id (required"
        " for DOCTOR, whose sign-off and prescribing rules compare it)",
    )


@router.get("/sign-in")
async def sign_in_options(request: Request) -> Response:
    """`{roles, tenants: [{id, name, slug, kind, practitioners: [{id, name, specialty}]}]}`."""
    tenants = await _tenants(request.app.state.projector_pool)
    roles = [role.value for role in Role if role is not Role.PLATFORM_ADMIN]
    return json_response({"roles": roles, "tenants": list(tenants.values())})


@router.post("/sign-in")
async def sign_in(request: Request, choice: Annotated[SignInChoice, Body()]) -> Response:
    """A token for the chosen tenant and role: `{token, expires_at, actor, roles, tenant_id}`."""
    tenants = await _tenants(request.app.state.projector_pool)
    tenant = tenants.get(str(choice.tenant_id))
    if tenant is None:
        raise Invalid("tenant_id", "no such tenant")
    if choice.role is Role.PLATFORM_ADMIN:
        raise Invalid("role", "the web app signs in within a tenant")
    actor = f"dev-{choice.role.value.lower().replace('_', '-')}"
    if choice.role is Role.DOCTOR:
        known = {p["id"] for p in tenant["practitioners"]}
        if choice.practitioner_id is None or str(choice.practitioner_id) not in known:
            raise Invalid(
                "practitioner_id", "a doctor signs in as one of the tenant's practitioners"
            )
        actor = str(choice.practitioner_id)
    settings = request.app.state.settings
    token = issue_token(
        settings.effective_jwt_secret,
        actor=actor,
        roles=[choice.role.value],
        tenant_id=choice.tenant_id,
        ttl_seconds=TOKEN_HOURS * 3600,
    )
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(hours=TOKEN_HOURS)
    return json_response(
        {
            "token": token,
            "expires_at": expires_at,
            "actor": actor,
            "roles": [choice.role.value],
            "tenant_id": choice.tenant_id,
        }
    )


async def _tenants(pool: asyncpg.Pool) -> dict[str, dict[str, Any]]:
    """Every tenant by id, with its kind as its policy says now and its practitioners."""
    tenants: dict[str, dict[str, Any]] = {}
    for row in await pool.fetch(_TENANCY_EVENTS):
        data = orjson.loads(row["data"]) if isinstance(row["data"], str) else row["data"]
        tenant_id = str(row["tenant_id"])
        if row["event_type"] == "TenantCreated":
            tenants[tenant_id] = {
                "id": tenant_id,
                "name": data["name"],
                "slug": data["slug"],
                "kind": data.get("kind", "clinic"),
                "practitioners": [],
            }
        elif tenant_id not in tenants:
            continue
        elif row["event_type"] == "TenantPolicyChanged":
            tenants[tenant_id]["kind"] = data["changes"].get("kind", tenants[tenant_id]["kind"])
        else:
            tenants[tenant_id]["practitioners"].append(
                {"id": str(row["stream_id"]), "name": data["name"], "specialty": data["specialty"]}
            )
    return tenants
