"""Read models of billing: rm_invoices (the invoice's folded state with its balance) and
rm_ledger_entries (the double-entry ledger, one row per posting)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import asyncpg

from backend.billing.ledger import journal
from backend.billing.model import INVOICE, Invoice, Line
from backend.eventstore import RecordedEvent
from backend.kernel.events import revive
from projections.framework import StateProjection

LEDGER_STREAMS = frozenset({"invoice", "payment"})


def _invoice_row(i: Invoice) -> dict[str, Any]:
    return {
        "patient_id": i.patient_id,
        "visit_id": i.visit_id,
        "currency": i.currency,
        "status": i.status,
        "issued": i.issued,
        "lines": [
            {
                "line_id": x.id,
                "code": x.code,
                "description": x.description,
                "quantity": x.quantity,
                "unit_price": x.unit_price,
            }
            for x in i.lines
        ],
        "discount_percent": i.discount_percent,
        "discount_reason": i.discount_reason,
        "subtotal": i.subtotal,
        "discount": i.discount,
        "total": i.total,
        "paid": i.paid,
        "refunded": i.refunded,
        "balance": i.balance,
        "payment_ids": list(i.payment_ids),
    }


def _invoice(r: asyncpg.Record) -> Invoice:
    lines = tuple(
        Line(
            UUID(x["line_id"]), x["code"], x["description"], x["quantity"], Decimal(x["unit_price"])
        )
        for x in r["lines"]
    )
    return Invoice(
        r["invoice_id"],
        r["patient_id"],
        r["visit_id"],
        r["currency"],
        lines,
        r["discount_percent"],
        r["discount_reason"],
        r["issued"],
        r["subtotal"],
        r["discount"],
        r["total"],
        r["paid"],
        r["refunded"],
        tuple(UUID(p) for p in r["payment_ids"]),
    )


INVOICES = StateProjection("invoices", INVOICE, "rm_invoices", "invoice_id", _invoice_row, _invoice)


@dataclass(frozen=True)
class LedgerProjection:
    """One row per posting. A row's id derives from its event and account, so an event applied
    again inserts nothing."""

    name: str = "ledger"
    table: str = "rm_ledger_entries"

    def wants(self, stream_type: str, event_type: str) -> bool:
        return stream_type in LEDGER_STREAMS

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        rows = []
        for event in events:
            if event.stream_type not in LEDGER_STREAMS:
                continue
            entry = journal(revive(event), event.stream_type)
            if entry is None:
                continue
            for p in entry.postings:
                entry_id = uuid5(NAMESPACE_URL, f"caretrail:ledger:{event.event_id}:{p.account}")
                rows.append(
                    (
                        event.tenant_id,
                        entry_id,
                        event.event_id,
                        event.position,
                        event.event_type,
                        entry.invoice_id,
                        p.account,
                        p.debit,
                        p.credit,
                        entry.currency,
                        event.occurred_at,
                    )
                )
        if rows:
            await conn.executemany(
                f"INSERT INTO {self.table} (tenant_id, entry_id, journal_id, position, event_type,"
                " invoice_id, account, debit, credit, currency, occurred_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                " ON CONFLICT (tenant_id, entry_id) DO NOTHING",
                rows,
            )


LEDGER = LedgerProjection()
