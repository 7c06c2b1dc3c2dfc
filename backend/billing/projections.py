"""Read models of billing: rm_invoices (the invoice's folded state with its balance),
rm_payments (every payment the gateway reported: captured, refused, refunded) and
rm_ledger_entries (the double-entry ledger, one row per posting)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import asyncpg

from backend.billing.events import (
    CreditTransferredIn,
    CreditTransferredOut,
    InvoiceIssued,
    InvoiceVoided,
    PaymentCaptured,
    RefundIssued,
)
from backend.billing.ledger import Posting, journal
from backend.billing.model import INVOICE
from backend.billing.payment import PAYMENT
from backend.eventstore import RecordedEvent
from backend.kernel.events import revive
from backend.kernel.money import ZERO
from projections.framework import mirrored

LEDGER_STREAMS = frozenset({"invoice", "payment"})
LEDGER_EVENTS = frozenset(
    e.type_name()
    for e in (
        InvoiceIssued,
        PaymentCaptured,
        RefundIssued,
        CreditTransferredOut,
        CreditTransferredIn,
        InvoiceVoided,
    )
)
"""The only events that post journals (ledger.journal): the runner may skip every other."""


INVOICES = mirrored(
    "invoices",
    INVOICE,
    "rm_invoices",
    "invoice_id",
    lambda i: {"status": i.status, "balance": i.balance},  # derived, for the list's filters
)

PAYMENTS = mirrored("payments", PAYMENT, "rm_payments", "payment_id")


@dataclass(frozen=True)
class LedgerProjection:
    """One row per posting, in the store's commit order: the global order `(tx_id, position)`
    of its event (then its account). Each row carries the running debits and credits of its
    account and currency after it, over the tenant (`total_*`) and over its invoice
    (`invoice_*`), so no read sums the ledger.

    Fed from the store, postings arrive in that order and each is added after the newest
    row of its account (an index probe). Fed from Kafka, an invoice's and a payment's
    partitions may apply out of that order: a posting that arrives behind rows already there
    takes the totals of the row before it and adds itself to every row after it. Either way
    the rows end as a replay in order makes them, so a rebuild, the check and the Kafka path
    agree. Postings of one tenant are applied one transaction at a time (an advisory lock).

    A row's id derives from its event and account: an event applied again adds nothing and
    moves no total."""

    name: str = "ledger"
    table: str = "rm_ledger_entries"

    def wants(self, stream_type: str, event_type: str) -> bool:
        return stream_type in LEDGER_STREAMS and event_type in LEDGER_EVENTS

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        postings = [
            _Row(event, entry.invoice_id, entry.currency, p)
            for event in events
            if self.wants(event.stream_type, event.event_type)
            for entry in [journal(revive(event), event.stream_type)]
            if entry is not None
            for p in entry.postings
        ]
        if not postings:
            return
        for tenant in sorted({r.event.tenant_id for r in postings}):
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"ledger:{tenant}"
            )
        applied = {
            r["entry_id"]
            for r in await conn.fetch(
                f"SELECT entry_id FROM {self.table} WHERE (tenant_id, entry_id) IN"
                " (SELECT * FROM unnest($1::uuid[], $2::uuid[]))",
                [r.event.tenant_id for r in postings],
                [r.entry_id for r in postings],
            )
        }
        ledger = _Ledger(conn, self.table)
        for row in postings:
            if row.entry_id not in applied:
                await ledger.add(row)
        await ledger.flush()


@dataclass(frozen=True)
class _Row:
    event: RecordedEvent
    invoice_id: UUID
    currency: str
    posting: Posting

    @property
    def entry_id(self) -> UUID:
        return uuid5(NAMESPACE_URL, f"caretrail:ledger:{self.event.event_id}:{self.account}")

    @property
    def account(self) -> str:
        return self.posting.account

    @property
    def place(self) -> tuple[int, int, str]:
        return (self.event.tx_id, self.event.position, self.account)


Totals = tuple[Decimal, Decimal]
_NONE: Totals = (ZERO, ZERO)


class _Ledger:
    """One batch's postings: appended in bulk while each comes after everything of its
    account, inserted among later rows (which it then adds itself to) otherwise."""

    def __init__(self, conn: asyncpg.Connection, table: str) -> None:
        self.conn, self.table = conn, table
        self.newest: dict[tuple[Any, ...], tuple[tuple[int, int, str], Totals]] = {}
        self.pending: list[tuple[Any, ...]] = []

    async def add(self, row: _Row) -> None:
        tenant = row.event.tenant_id
        scopes = (
            ("total", (tenant, row.account, row.currency)),
            ("invoice", (tenant, row.invoice_id, row.account, row.currency)),
        )
        running: list[Decimal] = []
        for kind, scope in scopes:
            newest = self.newest.get(scope) or await self._newest(kind, scope)
            if newest is None or newest[0] < row.place:
                before = _NONE if newest is None else newest[1]
                after = _plus(before, row.posting)
                self.newest[scope] = (row.place, after)
            else:  # arrived behind rows already there
                await self.flush()
                after = _plus(await self._before(kind, scope, row.place), row.posting)
                await self._add_to_later(kind, scope, row)
                self.newest[scope] = (newest[0], _plus(newest[1], row.posting))
            running.extend(after)
        event, p = row.event, row.posting
        self.pending.append(
            (
                tenant,
                row.entry_id,
                event.event_id,
                event.tx_id,
                event.position,
                event.event_type,
                row.invoice_id,
                p.account,
                p.debit,
                p.credit,
                row.currency,
                event.occurred_at,
                *running,
            )
        )

    async def flush(self) -> None:
        if self.pending:
            await self.conn.executemany(
                f"INSERT INTO {self.table} (tenant_id, entry_id, journal_id, tx_id, position,"
                " event_type, invoice_id, account, debit, credit, currency, occurred_at,"
                " total_debit, total_credit, invoice_debit, invoice_credit) VALUES"
                " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                self.pending,
            )
            self.pending = []

    async def _newest(
        self, kind: str, scope: tuple[Any, ...]
    ) -> tuple[tuple[int, int, str], Totals] | None:
        found = await self.conn.fetchrow(
            f"SELECT tx_id, position, account, {kind}_debit, {kind}_credit FROM {self.table}"
            f" WHERE {_SCOPES[kind]} ORDER BY tx_id DESC, position DESC LIMIT 1",
            *scope,
        )
        return None if found is None else ((found[0], found[1], found[2]), (found[3], found[4]))

    async def _before(
        self, kind: str, scope: tuple[Any, ...], place: tuple[int, int, str]
    ) -> Totals:
        found = await self.conn.fetchrow(
            f"SELECT {kind}_debit, {kind}_credit FROM {self.table} WHERE {_SCOPES[kind]}"
            f" AND (tx_id, position) < (${len(scope) + 1}, ${len(scope) + 2})"
            " ORDER BY tx_id DESC, position DESC LIMIT 1",
            *scope,
            place[0],
            place[1],
        )
        return _NONE if found is None else (found[0], found[1])

    async def _add_to_later(self, kind: str, scope: tuple[Any, ...], row: _Row) -> None:
        n = len(scope)
        await self.conn.execute(
            f"UPDATE {self.table} SET {kind}_debit = {kind}_debit + ${n + 1},"
            f" {kind}_credit = {kind}_credit + ${n + 2} WHERE {_SCOPES[kind]}"
            f" AND (tx_id, position) > (${n + 3}, ${n + 4})",
            *scope,
            row.posting.debit,
            row.posting.credit,
            row.event.tx_id,
            row.event.position,
        )


_SCOPES = {
    "total": "tenant_id = $1 AND account = $2 AND currency = $3",
    "invoice": "tenant_id = $1 AND invoice_id = $2 AND account = $3 AND currency = $4",
}
"""The rows one running total runs over (an account's postings have one place each)."""


def _plus(totals: Totals, posting: Posting) -> Totals:
    return (totals[0] + posting.debit, totals[1] + posting.credit)


LEDGER = LedgerProjection()
