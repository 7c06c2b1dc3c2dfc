"""HTTP routes of webhook subscriptions. A partner's API key (scope `events:read`) makes
subscriptions, which are its own: it lists, deletes and replays those only. A clinic admin
lists, deletes and replays every subscription of the tenant, but makes none: what a
subscription receives follows the scopes of the key that made it."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from backend.api.commands import execute
from backend.api.deps import require, tenant_of
from backend.api.problems import ApiError
from backend.api.query import declared_query_only
from backend.api.reads import json_response
from backend.api.types import Text, Whole
from backend.auth.principal import Principal, Role
from backend.kernel.errors import Invalid
from backend.webhooks import service, signing, table
from backend.webhooks.addresses import URL_MAX, OutboundRules, Refused
from backend.webhooks.model import MAX_TYPES

router = APIRouter(
    prefix="/v1/subscriptions", tags=["webhooks"], dependencies=[Depends(declared_query_only)]
)
Manager = Annotated[Principal, Depends(require(Role.CLINIC_ADMIN))]


class NewSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Text = Field(min_length=1, max_length=URL_MAX, description="https outside dev and test")
    types: list[Text] = Field(min_length=1, max_length=MAX_TYPES, description="event types")
    secret: Text | None = Field(
        default=None, description="whsec_<base64 of 24 to 64 bytes>; default: one is made"
    )


class Replay(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_position: Whole = Field(ge=0, description="0: from the tenant's first event")


@router.post("", status_code=201)
async def create_subscription(
    body: NewSubscription, request: Request, principal: Manager
) -> Response:
    """Deliveries of the given event types to `url`, signed with `secret` (made when not
    given, then in this response only)."""
    if principal.key_id is None:
        raise ApiError(403, "FORBIDDEN", "subscriptions are made with a partner's API key")
    rules: OutboundRules = request.app.state.webhook_rules
    try:
        await rules.target(body.url)
    except Refused as e:
        raise Invalid("url", str(e)) from None
    made = signing.new_secret() if body.secret is None else None
    secret_key = signing.secret_bytes(body.secret or made or "")
    subscription_id, key_id = uuid4(), principal.key_id
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.create(
            s, subscription_id, key_id, body.url, body.types, secret_key, made
        ),
        status_code=201,
    )


@router.get("")
async def list_subscriptions(request: Request, principal: Manager) -> Response:
    """A key's own subscriptions, or (a clinic admin) all of the tenant's; never a secret."""
    async with request.app.state.store.transaction(tenant_of(principal)) as conn:
        items = await table.listed(conn, principal.key_id)
    return json_response({"items": items, "next_cursor": None})


@router.delete("/{subscription_id}")
async def delete_subscription(
    subscription_id: UUID, request: Request, principal: Manager
) -> Response:
    """No more deliveries, from now on; again → 200, nothing recorded."""
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.delete(s, subscription_id),
    )


@router.post("/{subscription_id}/replay")
async def replay_subscription(
    subscription_id: UUID, body: Replay, request: Request, principal: Manager
) -> Response:
    """Deliver again, in order, every event of its types from `from_position` on (the event
    there included); a disabled subscription is enabled again."""
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.replay(s, subscription_id, body.from_position),
    )
