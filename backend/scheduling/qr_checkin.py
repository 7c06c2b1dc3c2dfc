"""Check-in by QR code: the site's screen shows a rotating token (`GET /v1/check-in/token`,
staff), a patient scans it and sends it (`POST /v1/check-in/qr`), and is checked in to their
appointment today, inside the tenant's check-in window (docs/API.md, Check-in by QR code)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from backend.api.commands import execute
from backend.api.deps import require, tenant_of
from backend.api.problems import PROBLEM, ApiError, problem_body
from backend.api.progress import ProgressWatch
from backend.api.query import declared_query_only
from backend.api.rate_limits import RateLimiter
from backend.api.reads import MAX_WAIT_SECONDS, json_response, read_model
from backend.api.types import Text
from backend.auth.principal import STAFF, Principal, Role
from backend.handling import CommandResult, CommandSession
from backend.kernel.errors import Conflict, Forbidden, NotFound
from backend.kernel.jsonable import json_default
from backend.kernel.local_days import day_bounds
from backend.scheduling import model, service
from backend.scheduling.qr_tokens import Rotation, base_key
from backend.tenancy.model import TENANT
from backend.tenancy.zone import tenant_policy

router = APIRouter(
    prefix="/v1/check-in", tags=["scheduling"], dependencies=[Depends(declared_query_only)]
)
Staff = Annotated[Principal, Depends(require(*STAFF))]
PatientOnly = Annotated[Principal, Depends(require(Role.PATIENT))]
LATEST = 2**62
"""Past any position: `place_of` answers with the last event committed."""
CANDIDATES = ("confirmed", "checked_in")
"""The appointments a scan may be for: one already checked in answers ALREADY_CHECKED_IN."""


class Scan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: Text = Field(min_length=1, max_length=200)
    appointment_id: UUID | None = Field(
        default=None, description="which of today's appointments, when the patient has several"
    )


def rotation(request: Request) -> Rotation:
    settings = request.app.state.settings
    return Rotation(base_key(settings.master_key_bytes), settings.checkin_qr_rotate_seconds)


@router.get("/token")
async def site_token(request: Request, principal: Staff) -> Response:
    """The token the site's screen shows now, and when to fetch the next."""
    token, refresh_at = rotation(request).token(tenant_of(principal), dt.datetime.now(dt.UTC))
    return json_response({"token": token, "refresh_at": refresh_at})


@router.post("/qr")
async def scan(body: Scan, request: Request, principal: PatientOnly) -> Response:
    """Limited per patient (429 RATE_LIMITED), then: the token checked, today's appointments
    found (several and none chosen: 409 APPOINTMENT_CHOICE_REQUIRED with the candidates), and
    the chosen one checked in inside the window."""
    try:
        patient_id = UUID(principal.actor)
    except ValueError:
        raise Forbidden("this token's sub names no patient") from None
    tenant_id = tenant_of(principal)
    await _within_attempts(request, tenant_id, patient_id)
    now = dt.datetime.now(dt.UTC)
    rotation(request).verify(body.token, tenant_id, now)
    scannable = await _scannable(request, principal, patient_id, now)
    if body.appointment_id is not None:
        if body.appointment_id not in {a["id"] for a in scannable}:
            raise NotFound("no such appointment of yours today")
        chosen = body.appointment_id
    elif not scannable:
        raise NotFound("you have no appointment today")
    elif len(scannable) > 1:
        return _choose(scannable)
    else:
        chosen = scannable[0]["id"]
    return await execute(request, principal, tenant_id, lambda s: check_in(s, chosen))


async def check_in(session: CommandSession, appointment_id: UUID) -> CommandResult:
    """The appointment's check-in, with too early and too late told apart."""
    appointment = (await session.load(model.APPOINTMENT, appointment_id)).state
    window = model.CheckinWindow.of((await session.state_of(TENANT, session.tenant_id)).policy)
    if appointment.status == "confirmed" and appointment.start is not None:
        earliest, latest = window.starts_open_at(session.ctx.now)
        if appointment.start > latest:
            raise Conflict("CHECKIN_TOO_EARLY", "check-in has not opened yet")
        if appointment.start < earliest:
            raise Conflict("CHECKIN_TOO_LATE", "check-in has closed; ask at the desk")
    return await service.check_in(session, appointment_id, None)


async def _within_attempts(request: Request, tenant_id: UUID, patient_id: UUID) -> None:
    limiter: RateLimiter = request.app.state.rate_limiter
    per_minute = request.app.state.settings.checkin_qr_attempts_per_minute
    verdict = await limiter.take_one(f"{tenant_id}:qr:{patient_id}", per_minute)
    if not verdict.allowed:
        raise ApiError(
            429,
            "RATE_LIMITED",
            f"at most {per_minute} check-in attempts a minute",
            headers={"Retry-After": str(verdict.retry_after)},
        )


async def _scannable(
    request: Request, principal: Principal, patient_id: UUID, now: dt.datetime
) -> list[dict[str, Any]]:
    """The patient's appointments today, and any other whose check-in window is open now (at
    23:50, one at 00:15; after midnight, one begun before it), read once the read model has
    applied everything committed before the scan (an appointment confirmed a moment ago is
    among them)."""
    watch: ProgressWatch = request.app.state.progress
    latest, _ = await watch.place_of(LATEST)
    if latest is not None:
        await watch.wait(["appointments"], latest, MAX_WAIT_SECONDS)
    async with read_model(request, principal, "appointments", None) as (conn, _):
        policy = await tenant_policy(conn, tenant_of(principal))
        zone = ZoneInfo(policy.timezone)
        since, until = day_bounds(now.astimezone(zone).date(), zone)
        rows = await conn.fetch(
            "SELECT appointment_id, practitioner_id, start_at, end_at, status"
            " FROM rm_appointments WHERE patient_id = $1 AND status = ANY($2)"
            " AND (start_at >= $3 AND start_at < $4 OR start_at BETWEEN $5 AND $6)"
            " ORDER BY start_at",
            patient_id,
            list(CANDIDATES),
            since,
            until,
            *model.CheckinWindow.of(policy).starts_open_at(now),
        )
    return [
        {
            "id": UUID(str(r["appointment_id"])),  # asyncpg's own UUIDs are no JSON
            "practitioner_id": UUID(str(r["practitioner_id"])),
            "start": r["start_at"],
            "end": r["end_at"],
            "status": r["status"],
        }
        for r in rows
    ]


def _choose(candidates: list[dict[str, Any]]) -> Response:
    body = problem_body(
        409,
        "APPOINTMENT_CHOICE_REQUIRED",
        "you have several appointments today; send the appointment_id of one",
    )
    body["candidates"] = candidates
    return Response(orjson.dumps(body, default=json_default), status_code=409, media_type=PROBLEM)
