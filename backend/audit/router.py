"""HTTP routes of the auditor's view beyond stream state: chain verification (a stream's
database hash chain; the tenant's keyed chain against its signed heads) and export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response, StreamingResponse

from backend.api import access
from backend.api.deps import require, tenant_of
from backend.api.paging import Cursor, Keyset, Limit, page
from backend.api.reads import json_response
from backend.api.types import Instant
from backend.audit import export
from backend.audit.chain import verify_stream
from backend.audit.tenant_chain import TenantChainReport, verify_tenant
from backend.auth.principal import Principal, Role
from backend.eventstore import EventStore
from backend.kernel.aggregate import aggregate_for
from backend.kernel.errors import Invalid, NotFound

router = APIRouter(prefix="/v1", tags=["audit"])
Auditors = Annotated[Principal, Depends(require(Role.AUDITOR, Role.CLINIC_ADMIN))]


@router.get("/streams/{stream_type}/{stream_id}/verify")
async def verify(
    stream_type: str, stream_id: UUID, request: Request, principal: Auditors
) -> Response:
    """Recompute the stream's hash chain and report the first link that does not hold, and the
    events whose sealed fields no longer open; `valid` only when neither is found."""
    if aggregate_for(stream_type) is None:
        raise NotFound(f"unknown stream type {stream_type}")
    store: EventStore = request.app.state.store
    async with store.transaction(tenant_of(principal)) as conn:
        report = await verify_stream(conn, stream_type, stream_id)
    if report.events == 0:
        raise NotFound(f"{stream_type} {stream_id} not found")
    broken, unreadable = report.broken, report.unreadable
    return json_response(
        {
            "stream_type": stream_type,
            "stream_id": stream_id,
            "events": report.events,
            "valid": report.valid,
            "head_hash": report.head,
            "first_broken": None
            if broken is None
            else {"version": broken.version, "position": broken.position, "reason": broken.reason},
            "unreadable": [{"version": e.version, "position": e.position} for e in unreadable],
        }
    )


@router.get("/audit/verify")
async def verify_tenant_chain(
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.AUDITOR))],
    start: Annotated[
        Instant | None, Query(alias="from", description="recorded at or after; default: the start")
    ] = None,
    end: Annotated[Instant | None, Query(alias="to", description="recorded before; now")] = None,
) -> Response:
    """The tenant's chain over the events recorded in [from, to): every link recomputed under
    the application's key, every event checked for the application's mark, the latest signed
    head (and those of the period) checked against the chain. `first_broken` names the first
    link that does not hold; `valid` only when nothing is found (docs/security.md)."""
    if start is not None and end is not None and end <= start:
        raise Invalid("to", "must be after from")
    tenant_id = tenant_of(principal)
    report = await verify_tenant(
        request.app.state.store, request.app.state.head_book, tenant_id, start, end
    )
    return json_response({"tenant_id": tenant_id, "from": start, "to": end} | _report(report))


def _report(report: TenantChainReport) -> dict[str, object]:
    broken, latest = report.first_broken, report.latest_head
    return {
        "valid": report.valid,
        "links": report.links,
        "chained_through": report.chained_through,
        "first_broken": None
        if broken is None
        else {
            "seq": broken.seq,
            "position": broken.position,
            "event_id": broken.event_id,
            "reason": broken.reason,
        },
        "unchained": [{"position": u.position, "event_id": u.event_id} for u in report.unchained],
        "signed_heads": {
            "checked": report.heads_checked,
            "latest": None
            if latest is None
            else {"seq": latest.seq, "position": latest.position, "signed_at": latest.signed_at},
            "problems": [
                {"file": p.file, "seq": p.seq, "reason": p.reason} for p in report.head_problems
            ],
        },
    }


@router.get(
    "/audit/export",
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "one event a line"}},
)
async def export_events(
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.AUDITOR))],
    start: Annotated[Instant, Query(alias="from", description="recorded at or after")],
    end: Annotated[Instant | None, Query(alias="to", description="recorded before; now")] = None,
) -> Response:
    """Every event of the tenant recorded in [from, to), in recording order, streamed as NDJSON
    in constant memory. `to` later than now (or absent) means now. Headers X-Export-From and
    X-Export-To give the period exported."""
    if end is not None and end <= start:
        raise Invalid("to", "must be after from")
    store: EventStore = request.app.state.store
    tenant_id = tenant_of(principal)
    period = await export.settled_period(request.app.state.projector_pool, start, end)
    async with store.transaction(tenant_id) as conn:  # recorded before a line is sent
        await access.record(conn, request, principal, (), always=True)

    async def body() -> AsyncIterator[bytes]:
        async for part in export.pages(store, tenant_id, period):
            yield export.ndjson(part.lines)

    return StreamingResponse(
        body(),
        media_type="application/x-ndjson",
        headers={
            "X-Export-From": period.start.isoformat(),
            "X-Export-To": period.end.isoformat(),
        },
    )


NEWEST_ACCESS_FIRST = Keyset((("at", "timestamptz"), ("access_id", "bigint")), descending=True)


@router.get("/audit/access")
async def access_log(
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.AUDITOR))],
    patient_id: UUID | None = None,
    actor: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    start: Annotated[Instant | None, Query(alias="from", description="at or after")] = None,
    end: Annotated[Instant | None, Query(alias="to", description="before")] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    """Who read which patient's records, newest first: by patient, by actor (a token's `sub`
    or an API key's id), over a period (backend/api/access.py)."""
    store: EventStore = request.app.state.store
    async with store.transaction(tenant_of(principal)) as conn:
        body = await page(
            conn,
            "SELECT * FROM access_log",
            "($1::uuid IS NULL OR patient_ids @> ARRAY[$1::uuid])"
            " AND ($2::text IS NULL OR actor = $2)"
            " AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::timestamptz IS NULL OR at < $4)",
            (patient_id, actor, start, end),
            NEWEST_ACCESS_FIRST,
            cursor,
            limit,
            _access_entry,
        )
    return json_response(body)


def _access_entry(row: asyncpg.Record) -> dict[str, Any]:
    entry = {k: row[k] for k in row.keys() if k not in ("tenant_id", "access_id")}  # noqa: SIM118
    return {**entry, "id": row["access_id"]}
