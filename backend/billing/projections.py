"""Read models of billing: rm_invoices (the invoice's folded state with its balance) and
rm_ledger_entries (the double-entry ledger, one row per posting)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import NAMESPACE_URL, uuid5

import asyncpg

from backend.billing.events import InvoiceIssued, PaymentCaptured, RefundIssued
from backend.billing.ledger import journal
from backend.billing.model import INVOICE
from backend.eventstore import RecordedEvent
from backend.kernel.events import revive
from projections.framework import mirrored

LEDGER_STREAMS = frozenset({"invoice", "payment"})
LEDGER_EVENTS = frozenset(e.type_name() for e in (InvoiceIssued, PaymentCaptured, RefundIssued))
"""The only events that post journals (ledger.journal): the runner may skip every other."""


INVOICES = mirrored(
    "invoices",
    INVOICE,
    "rm_invoices",
    "invoice_id",
    lambda i: {"status": i.status, "balance": i.balance},  # derived, for the list's filters
)


@dataclass(frozen=True)
class LedgerProjection:
    """One row per posting. A row's id derives from its event and account, so an event applied
    again inserts nothing."""

    name: str = "ledger"
    table: str = "rm_ledger_entries"

    def wants(self, stream_type: str, event_type: str) -> bool:
        return stream_type in LEDGER_STREAMS and event_type in LEDGER_EVENTS

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        rows = []
        for event in events:
            if not self.wants(event.stream_type, event.event_type):
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
