"""HTTP reads of billing: invoices with their balance, and the ledger."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from backend.api.deps import require, tenant_of
from backend.api.paging import Cursor, Keyset, Limit, page
from backend.api.reads import MinPosition, read_model, read_model_response, read_one
from backend.auth.principal import Principal, Role
from backend.billing.projections import INVOICES, LEDGER, PAYMENTS
from backend.eventstore.types import GlobalCheckpoint
from backend.kernel.money import show
from projections import tracking

router = APIRouter(prefix="/v1", tags=["billing"])
InvoiceReaders = Annotated[
    Principal,
    Depends(require(Role.RECEPTIONIST, Role.FINANCE_BILLING, Role.CLINIC_ADMIN, Role.AUDITOR)),
]
LedgerReaders = Annotated[
    Principal, Depends(require(Role.FINANCE_BILLING, Role.CLINIC_ADMIN, Role.AUDITOR))
]
Status = Literal["draft", "issued", "partially_paid", "paid", "refunded", "void"]
PaymentStatus = Literal["captured", "refused", "refunded"]
PaymentReaders = LedgerReaders


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
    cursor: Cursor = None,
    limit: Limit = 100,
    min_position: MinPosition = None,
) -> Response:
    async with read_model(request, principal, INVOICES.name, min_position) as (conn, at):
        body = await page(
            conn,
            "SELECT * FROM rm_invoices",
            "($1::uuid IS NULL OR patient_id = $1) AND ($2::text IS NULL OR status = $2)",
            (patient_id, status),
            Keyset((("invoice_id", "uuid"),)),
            cursor,
            limit,
            INVOICES.view_of,
        )
    return read_model_response(body, at)


@router.get("/payments")
async def list_payments(
    request: Request,
    principal: PaymentReaders,
    status: Annotated[
        PaymentStatus | None,
        Query(description="refused: applied to no invoice (unapplied); refunded: any refund"),
    ] = None,
    invoice_id: UUID | None = None,
    provider: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
    min_position: MinPosition = None,
) -> Response:
    """Every payment the gateway reported, captured or refused (money applied to no invoice:
    `unapplied`), with its refunds, in id order."""
    async with read_model(request, principal, PAYMENTS.name, min_position) as (conn, at):
        body = await page(
            conn,
            "SELECT * FROM rm_payments",
            "($1::text IS NULL OR status = $1 OR ($1 = 'refunded' AND refunded > 0))"
            " AND ($2::uuid IS NULL OR invoice_id = $2) AND ($3::text IS NULL OR provider = $3)",
            (status, invoice_id, provider),
            Keyset((("payment_id", "uuid"),)),
            cursor,
            limit,
            PAYMENTS.view_of,
        )
    return read_model_response(body, at)


LEDGER_ORDER = Keyset((("tx_id", "bigint"), ("position", "bigint"), ("account", "text")))
"""Commit order: the store's global order of the postings' events, then the account."""


@router.get("/ledger")
async def get_ledger(
    request: Request,
    principal: LedgerReaders,
    invoice_id: UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
    min_position: MinPosition = None,
) -> Response:
    """The postings (of one invoice, or of the whole tenant) in commit order, a page at a
    time, each with the running debits, credits and balance of its account after it (over the
    invoice, or over the tenant); and per account and currency the totals over every page.
    Both are kept by the ledger projection: nothing here sums the ledger.

    Only postings up to the place the ledger has applied everything of are shown: fed from
    Kafka, a partition may still be applying an earlier journal, which would otherwise appear
    behind a page already read."""
    tenant = tenant_of(principal)
    kind = "total" if invoice_id is None else "invoice"
    async with read_model(request, principal, LEDGER.name, min_position) as (conn, at):
        places = await tracking.least_places(conn, request.app.state.progress.partitions)
        applied = places.get(LEDGER.name, GlobalCheckpoint())
        scope = (tenant, invoice_id, applied.tx_id, applied.position)
        body = await page(
            conn,
            "SELECT * FROM rm_ledger_entries",
            f"{_SCOPE} AND (tx_id, position) <= ($3, $4)",
            scope,
            LEDGER_ORDER,
            cursor,
            limit,
            lambda row: _entry_view(row, kind),
        )
        totals = await conn.fetch(_TOTALS.format(running=kind), *scope)
    body["totals"] = [
        {
            "account": t["account"],
            "currency": t["currency"],
            "debit": show(t["debit"], t["currency"]),
            "credit": show(t["credit"], t["currency"]),
            "balance": show(t["debit"] - t["credit"], t["currency"]),
        }
        for t in totals
    ]
    return read_model_response(body, at)


_SCOPE = "tenant_id = $1 AND ($2::uuid IS NULL OR invoice_id = $2)"
_TOTALS = f"""
WITH RECURSIVE pairs(account, currency) AS (
  (SELECT account, currency FROM rm_ledger_entries WHERE {_SCOPE}
    ORDER BY account, currency LIMIT 1)
  UNION ALL
  SELECT n.account, n.currency FROM pairs p CROSS JOIN LATERAL (
    SELECT account, currency FROM rm_ledger_entries WHERE {_SCOPE}
       AND (account, currency) > (p.account, p.currency)
     ORDER BY account, currency LIMIT 1) n
)
SELECT p.account, p.currency, l.debit, l.credit FROM pairs p CROSS JOIN LATERAL (
  SELECT {{running}}_debit AS debit, {{running}}_credit AS credit FROM rm_ledger_entries
   WHERE {_SCOPE} AND account = p.account AND currency = p.currency
     AND (tx_id, position) <= ($3, $4)
   ORDER BY tx_id DESC, position DESC LIMIT 1) l
 ORDER BY p.account, p.currency
"""
"""Per account and currency, the running totals of its newest posting shown: each pair found
by an index probe (a loose index scan), so the cost follows the number of accounts, not of
postings."""


def _entry_view(row: asyncpg.Record, running: str) -> dict[str, Any]:
    currency = row["currency"]
    debit, credit = row[f"{running}_debit"], row[f"{running}_credit"]
    return {
        "entry_id": row["entry_id"],
        "journal_id": row["journal_id"],
        "position": row["position"],
        "event_type": row["event_type"],
        "invoice_id": row["invoice_id"],
        "account": row["account"],
        "debit": show(row["debit"], currency),
        "credit": show(row["credit"], currency),
        "currency": currency,
        "occurred_at": row["occurred_at"],
        "running": {
            "debit": show(debit, currency),
            "credit": show(credit, currency),
            "balance": show(debit - credit, currency),
        },
    }
