"""HTTP routes of the notifications context: templates (admin) and the outbox (staff)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from backend.api.commands import execute
from backend.api.deps import require, tenant_of
from backend.api.paging import Cursor, Keyset, Limit, page
from backend.api.reads import MinPosition, read_model, read_model_response, read_one
from backend.api.types import Text
from backend.auth.principal import STAFF, Principal, Role
from backend.notifications import service
from backend.notifications.projections import NOTIFICATIONS
from backend.notifications.templates import NAME

router = APIRouter(tags=["notifications"])
Admin = Annotated[Principal, Depends(require(Role.CLINIC_ADMIN))]
Staff = Annotated[Principal, Depends(require(*STAFF))]
Status = Literal["queued", "sending", "sent", "failed", "escalated", "withdrawn"]


class TemplateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Literal["sms", "whatsapp", "email"]
    body: Text = Field(min_length=1, max_length=2000)


@router.put("/v1/notification-templates/{name}")
async def set_template(
    name: Annotated[str, Path(pattern=NAME.pattern)],
    body: TemplateBody,
    request: Request,
    principal: Admin,
) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.set_template(s, name, body.channel, body.body),
    )


BY_DUE = Keyset((("send_after", "timestamptz"), ("notification_id", "uuid")))


@router.get("/v1/notifications")
async def list_notifications(
    request: Request,
    principal: Staff,
    status: Status | None = None,
    patient_id: UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
    min_position: MinPosition = None,
) -> Response:
    """By when they are due, a page at a time."""
    async with read_model(request, principal, NOTIFICATIONS.name, min_position) as (conn, at):
        body = await page(
            conn,
            "SELECT * FROM rm_notifications",
            "($1::text IS NULL OR status = $1) AND ($2::uuid IS NULL OR patient_id = $2)",
            (status, patient_id),
            BY_DUE,
            cursor,
            limit,
            NOTIFICATIONS.view_of,
        )
    return read_model_response(body, at)


@router.get("/v1/notifications/{notification_id}")
async def get_notification(
    notification_id: UUID, request: Request, principal: Staff, min_position: MinPosition = None
) -> Response:
    return await read_one(
        request,
        principal,
        NOTIFICATIONS,
        notification_id,
        min_position,
        "notification",
    )
