"""`GET /v1/front-desk/day`: the day's appointments and walk-in visits with their patient,
practitioner, visit and the payment status of the visit's invoice, joined from five read models
in one transaction. The day is the tenant's: from midnight to midnight in its time zone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from backend.api.deps import require, tenant_of
from backend.api.paging import Cursor, Keyset, Limit, page
from backend.api.query import declared_query_only
from backend.api.reads import MinPosition, read_model, read_model_response
from backend.api.types import Day
from backend.auth.principal import STAFF, Principal
from backend.billing.visit import visit_invoice_id
from backend.kernel.local_days import day_bounds
from backend.tenancy.zone import tenant_zone

router = APIRouter(
    prefix="/v1/front-desk", tags=["front desk"], dependencies=[Depends(declared_query_only)]
)
Row = Mapping[str, Any]
Staff = Annotated[Principal, Depends(require(*STAFF))]
READ_MODELS = ("appointments", "patients", "practitioners", "visits", "invoices")
"""Every projection the day is read from (by the names their contexts give them, and their
tables by name in the SQL below: the front desk reads other contexts' read models, it does not
import them); min_position waits for all of them."""

_DAY = """
SELECT 'appointment' AS kind, a.appointment_id AS entry_id, a.appointment_id,
       a.start_at, a.end_at, a.reason, a.status,
       a.patient_id, p.given_name, p.family_name,
       a.practitioner_id, pr.name AS practitioner_name,
       v.visit_id, v.status AS visit_status
  FROM rm_appointments a
  LEFT JOIN rm_patients p ON p.tenant_id = a.tenant_id AND p.patient_id = a.patient_id
  LEFT JOIN rm_practitioners pr
         ON pr.tenant_id = a.tenant_id AND pr.practitioner_id = a.practitioner_id
  LEFT JOIN rm_visits v ON v.tenant_id = a.tenant_id AND v.appointment_id = a.appointment_id
 WHERE a.start_at >= $1 AND a.start_at < $2
UNION ALL
SELECT 'walk_in', w.visit_id, NULL::uuid,
       w.opened_at, NULL::timestamptz, w.reason, NULL::text,
       w.patient_id, p.given_name, p.family_name,
       w.practitioner_id, pr.name,
       w.visit_id, w.status
  FROM rm_visits w
  LEFT JOIN rm_patients p ON p.tenant_id = w.tenant_id AND p.patient_id = w.patient_id
  LEFT JOIN rm_practitioners pr
         ON pr.tenant_id = w.tenant_id AND pr.practitioner_id = w.practitioner_id
 WHERE w.appointment_id IS NULL AND w.opened_at >= $1 AND w.opened_at < $2
"""
"""The day's entries: its appointments by start, and its walk-ins (visits opened without an
appointment) by the time they opened; `entry_id` (the appointment's id, else the visit's) makes
the order total for paging."""
BY_START = Keyset((("start_at", "timestamptz"), ("entry_id", "uuid")))
_INVOICES = """
SELECT invoice_id, visit_id, status, currency, total, balance
  FROM rm_invoices WHERE visit_id = ANY($1::uuid[])
 ORDER BY invoice_id
"""


@router.get("/day")
async def front_desk_day(
    request: Request,
    principal: Staff,
    date: Annotated[Day, Query(description="the day, in the tenant's time zone")],
    cursor: Cursor = None,
    limit: Limit = 100,
    min_position: MinPosition = None,
) -> Response:
    async with read_model(request, principal, READ_MODELS, min_position) as (conn, at):
        zone = await tenant_zone(conn, tenant_of(principal))
        body = await page(
            conn,
            f"SELECT * FROM ({_DAY}) day",
            "true",
            day_bounds(date, zone),
            BY_START,
            cursor,
            limit,
            dict,
        )
        rows = body["items"]
        visit_ids = [r["visit_id"] for r in rows if r["visit_id"] is not None]
        invoices = await conn.fetch(_INVOICES, visit_ids) if visit_ids else []
    chosen = invoice_per_visit(invoices)
    items = [_item(r, chosen.get(r["visit_id"])) for r in rows]
    return read_model_response({"date": date, "time_zone": zone.key, **body, "items": items}, at)


def invoice_per_visit(invoices: Sequence[Row]) -> dict[UUID, Row]:
    """The invoice whose payment a visit shows: the one billing drafted for it when the visit
    was signed off, else (an invoice drafted by hand for the visit) the first by id."""
    chosen: dict[UUID, Row] = {}
    for invoice in invoices:
        visit_id = invoice["visit_id"]
        if invoice["invoice_id"] == visit_invoice_id(visit_id) or visit_id not in chosen:
            chosen[visit_id] = invoice
    return chosen


def _item(row: Row, invoice: Row | None) -> dict[str, Any]:
    patient_name = (
        f"{row['given_name']} {row['family_name']}" if row["given_name"] is not None else None
    )
    visit = (
        {"id": row["visit_id"], "status": row["visit_status"]}
        if row["visit_id"] is not None
        else None
    )
    return {
        "kind": row["kind"],
        "appointment_id": row["appointment_id"],
        "start": row["start_at"],
        "end": row["end_at"],
        "reason": row["reason"],
        "status": row["status"],
        "patient": {"id": row["patient_id"], "name": patient_name},
        "practitioner": {"id": row["practitioner_id"], "name": row["practitioner_name"]},
        "visit": visit,
        "payment": _payment(invoice),
    }


def _payment(invoice: Row | None) -> dict[str, Any]:
    if invoice is None:
        return {
            "status": "none",
            "invoice_id": None,
            "currency": None,
            "total": None,
            "balance": None,
        }
    return {
        "status": invoice["status"],
        "invoice_id": invoice["invoice_id"],
        "currency": invoice["currency"],
        "total": str(invoice["total"]),
        "balance": str(invoice["balance"]),
    }
