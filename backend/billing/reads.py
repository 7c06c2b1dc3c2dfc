"""HTTP reads of billing: invoices with their balance, and the ledger."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from backend.api.deps import require
from backend.api.reads import MinPosition, read_model, read_model_response, read_one
from backend.auth.principal import Principal, Role
from backend.billing.projections import INVOICES, LEDGER

router = APIRouter(prefix="/v1", tags=["billing"])
InvoiceReaders = Annotated[
    Principal,
    Depends(require(Role.RECEPTIONIST, Role.FINANCE_BILLING, Role.CLINIC_ADMIN, Role.AUDITOR)),
]
LedgerReaders = Annotated[
    Principal, Depends(require(Role.FINANCE_BILLING, Role.CLINIC_ADMIN, Role.AUDITOR))
]
Status = Literal["draft", "issued", "partially_paid", "paid", "refunded"]
Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("/invoices/{invoice_id}")
async def get_invoice(
    invoice_id: UUID, request: Request, principal: InvoiceReaders, min_position: MinPosition = None
) -> Response:
    return await read_one(request, principal, INVOICES, invoice_id, min_position, "invoice")


@router.get("/invoices")
async def list_invoices(
    request: Request,
    principal: InvoiceReaders,
    patient_id: UUID | None = None,
    status: Status | None = None,
    cursor: Annotated[UUID | None, Query(description="next_cursor of the page before")] = None,
    limit: Limit = 100,
    min_position: MinPosition = None,
) -> Response:
    async with read_model(request, principal, INVOICES.name, min_position) as (conn, at):
        rows = await conn.fetch(
            "SELECT * FROM rm_invoices WHERE ($1::uuid IS NULL OR patient_id = $1)"
            " AND ($2::text IS NULL OR status = $2) AND ($3::uuid IS NULL OR invoice_id > $3)"
            " ORDER BY invoice_id LIMIT $4",
            patient_id,
            status,
            cursor,
            limit + 1,
        )
    items = [INVOICES.view_of(r) for r in rows[:limit]]
    next_cursor = str(items[-1]["id"]) if len(rows) > limit else None
    return read_model_response({"items": items, "next_cursor": next_cursor}, at)


@router.get("/ledger")
async def get_ledger(
    request: Request,
    principal: LedgerReaders,
    invoice_id: UUID | None = None,
    after_position: Annotated[
        int, Query(ge=0, description="next_after_position of the page before")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=500, description="journals per page")] = 100,
    min_position: MinPosition = None,
) -> Response:
    """The postings (of one invoice, or of the whole tenant) in the order they were recorded,
    a page of whole journals at a time, and per account and currency the total debits, credits
    and balance (debit - credit) over every page."""
    async with read_model(request, principal, LEDGER.name, min_position) as (conn, at):
        entries = await conn.fetch(
            "WITH page AS (SELECT DISTINCT position FROM rm_ledger_entries"
            "  WHERE ($1::uuid IS NULL OR invoice_id = $1) AND position > $2"
            "  ORDER BY position LIMIT $3)"
            " SELECT * FROM rm_ledger_entries WHERE position IN (SELECT position FROM page)"
            " ORDER BY position, account",
            invoice_id,
            after_position,
            limit + 1,
        )
        totals = await conn.fetch(
            "SELECT account, currency, sum(debit) AS debit, sum(credit) AS credit"
            " FROM rm_ledger_entries WHERE ($1::uuid IS NULL OR invoice_id = $1)"
            " GROUP BY account, currency ORDER BY account, currency",
            invoice_id,
        )
    positions = sorted({e["position"] for e in entries})
    more = len(positions) > limit
    shown = [e for e in entries if not more or e["position"] < positions[limit]]
    body = {
        "entries": [_entry_view(e) for e in shown],
        "next_after_position": positions[limit - 1] if more else None,
        "totals": [
            {
                "account": t["account"],
                "currency": t["currency"],
                "debit": str(t["debit"]),
                "credit": str(t["credit"]),
                "balance": str(t["debit"] - t["credit"]),
            }
            for t in totals
        ],
    }
    return read_model_response(body, at)


def _entry_view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "entry_id": row["entry_id"],
        "journal_id": row["journal_id"],
        "position": row["position"],
        "event_type": row["event_type"],
        "invoice_id": row["invoice_id"],
        "account": row["account"],
        "debit": str(row["debit"]),
        "credit": str(row["credit"]),
        "currency": row["currency"],
        "occurred_at": row["occurred_at"],
    }
