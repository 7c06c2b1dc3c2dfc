"""Verify a tenant's chain over a period of recording time, against its signed heads.

Walks the links recorded in [start, end) in order, recomputing each from the link before it (as
stored) and its event as stored now: a link whose event is gone (`missing_event`: a deleted event
or stream), a link missing from the sequence (`missing_link`), an event that is not as it was
linked (`link_mismatch`: edited, renumbered, re-timed, even with the database's own hashes
recomputed) or that the application never marked (`not_written_by_the_application`: inserted
behind its back, even with triggers on). Events of the period the chainer has passed but not
linked are `unchained`. The latest signed head, and those inside the period, must match the
chain (`truncated`: the database has fewer links than a signed head saw, as after cutting a
tail or restoring an old backup; `head_mismatch`; `unmarked_until_changed`), and each must
carry a good signature (`bad_head_signature`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

from backend.audit.heads import Head, HeadBook
from backend.audit.links import EVENT_COLUMNS, link, linked_event
from backend.eventstore import EventStore

PAGE = 2000
UNCHAINED_SHOWN = 100

_BOUNDS = """
SELECT (SELECT min(seq) FROM audit_chain WHERE tenant_id = $1
         AND recorded_at >= $2 AND ($3::timestamptz IS NULL OR recorded_at < $3)) AS lo,
       (SELECT max(seq) FROM audit_chain WHERE tenant_id = $1
         AND recorded_at >= $2 AND ($3::timestamptz IS NULL OR recorded_at < $3)) AS hi,
       p.tx_id::text AS tx_id, p.position, p.unmarked_until
  FROM audit_chain_place p
"""
_LINKS = f"""
SELECT c.seq, c.event_id AS chained_event_id, c.position AS chained_position, c.link,
       {EVENT_COLUMNS}
  FROM audit_chain c LEFT JOIN events e ON e.event_id = c.event_id AND e.tenant_id = c.tenant_id
 WHERE c.tenant_id = $1 AND c.seq >= $2 AND c.seq <= $3
 ORDER BY c.seq LIMIT $4
"""
_UNCHAINED = """
SELECT e.position, e.event_id FROM events e
 WHERE e.tenant_id = $1 AND e.recorded_at >= $2 AND ($3::timestamptz IS NULL OR e.recorded_at < $3)
   AND (e.tx_id, e.position) <= ($4::text::xid8, $5)
   AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = e.event_id)
 ORDER BY e.position LIMIT $6
"""


@dataclass(frozen=True)
class Break:
    seq: int
    position: int | None
    event_id: UUID | None
    reason: str


@dataclass(frozen=True)
class Unchained:
    position: int
    event_id: UUID


@dataclass(frozen=True)
class HeadProblem:
    file: str
    seq: int | None
    reason: str


@dataclass
class TenantChainReport:
    links: int = 0
    first_broken: Break | None = None
    unchained: list[Unchained] = field(default_factory=list)
    heads_checked: int = 0
    latest_head: Head | None = None
    head_problems: list[HeadProblem] = field(default_factory=list)
    chained_through: int = 0
    """The global position the chainer had linked through when verified."""

    @property
    def valid(self) -> bool:
        return self.first_broken is None and not self.unchained and not self.head_problems


async def verify_tenant(
    store: EventStore,
    book: HeadBook,
    tenant_id: UUID,
    start: dt.datetime | None,
    end: dt.datetime | None,
) -> TenantChainReport:
    report = TenantChainReport()
    since = start or dt.datetime(1, 1, 1, tzinfo=dt.UTC)
    async with store.transaction(tenant_id) as conn:
        bounds = await conn.fetchrow(_BOUNDS, tenant_id, since, end)
        assert bounds is not None, "migration 0022 creates the place row"
        report.chained_through = bounds["position"]
        report.unchained = [
            Unchained(r["position"], r["event_id"])
            for r in await conn.fetch(
                _UNCHAINED,
                tenant_id,
                since,
                end,
                bounds["tx_id"],
                bounds["position"],
                UNCHAINED_SHOWN,
            )
        ]
        head_breaks = await _check_heads(
            conn, book, tenant_id, bounds["lo"], bounds["hi"], bounds["unmarked_until"], report
        )
    if bounds["lo"] is not None:
        await _walk(store, tenant_id, bounds["lo"], bounds["hi"], bounds["unmarked_until"], report)
    breaks = [b for b in (report.first_broken, *head_breaks) if b is not None]
    report.first_broken = min(breaks, key=lambda b: b.seq, default=None)
    return report


async def _walk(
    store: EventStore,
    tenant_id: UUID,
    lo: int,
    hi: int,
    unmarked_until: int,
    report: TenantChainReport,
) -> None:
    """Check links lo..hi, a page per transaction; stops at the first broken one."""
    expected = max(lo - 1, 1)
    previous: bytes | None = None
    while expected <= hi:
        async with store.transaction(tenant_id) as conn:
            rows = await conn.fetch(_LINKS, tenant_id, expected, hi, PAGE)
        if not rows:
            report.first_broken = Break(expected, None, None, "missing_link")
            return
        for row in rows:
            broken = _check(row, expected, lo, previous, unmarked_until)
            if broken is not None:
                report.first_broken = broken
                return
            if row["seq"] >= lo:
                report.links += 1
            previous = row["link"]
            expected += 1


def _check(
    row: asyncpg.Record, expected: int, lo: int, previous: bytes | None, unmarked_until: int
) -> Break | None:
    """The link `row` against the one before it. The link just before the period (seq lo-1)
    is only the anchor: its own link is checked by a period that holds it."""
    seq = row["seq"]
    if seq != expected:
        return Break(expected, None, None, "missing_link")
    if seq < lo:
        return None
    if row["event_id"] is None:
        return Break(seq, row["chained_position"], row["chained_event_id"], "missing_event")
    event = linked_event(row)
    where = (seq, row["position"], row["event_id"])
    if link(previous, seq, event) != row["link"]:
        return Break(*where, "link_mismatch")
    if not event.mark_holds() and not (row["mark"] is None and row["position"] <= unmarked_until):
        return Break(*where, "not_written_by_the_application")
    return None


async def _check_heads(
    conn: asyncpg.Connection,
    book: HeadBook,
    tenant_id: UUID,
    lo: int | None,
    hi: int | None,
    unmarked_until: int,
    report: TenantChainReport,
) -> list[Break]:
    """The latest signed head and those inside the period, against the chain as stored."""
    files = book.files(tenant_id)
    chosen = files[-1:] + [
        f for f in files[:-1] if lo is not None and hi is not None and lo <= int(f.stem) <= hi
    ]
    read = [book.read(f) for f in chosen]
    report.heads_checked = len(read)
    for r in read:
        if r.head is None:
            report.head_problems.append(HeadProblem(r.file, None, "bad_head_signature"))
    heads = [r.head for r in read if r.head is not None]
    if files and read[0].head is not None:
        report.latest_head = read[0].head
    stored = {
        r["seq"]: r["link"]
        for r in await conn.fetch(
            "SELECT seq, link FROM audit_chain WHERE tenant_id = $1 AND seq = ANY($2)",
            tenant_id,
            [h.seq for h in heads],
        )
    }
    breaks = []
    for h in heads:
        if h.seq not in stored:
            reason = "truncated"
        elif stored[h.seq] != h.link:
            reason = "head_mismatch"
        elif h.unmarked_until != unmarked_until:
            reason = "unmarked_until_changed"
        else:
            continue
        report.head_problems.append(HeadProblem(f"{h.seq:020d}.json", h.seq, reason))
        breaks.append(Break(h.seq, h.position, None, reason))
    return breaks
