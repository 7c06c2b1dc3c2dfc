"""The chainer: links every committed event into its tenant's chain, in commit order, and signs
the chains' heads outside the database every `sign_seconds` (and when it stops).

It reads the store's gap-safe global order (`read_events_after`, as projections do), so an event
that commits late is still linked, after those that committed before it. A batch takes the
chain's place row FOR UPDATE: several processes may run a chainer, one batch links at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar
from uuid import UUID

import asyncpg
import structlog

from backend.audit.heads import Head, HeadBook
from backend.audit.links import EVENT_COLUMNS, link, linked_event
from backend.eventstore.db import TRANSIENT
from backend.eventstore.signal import AppendSignal, pace

log = structlog.get_logger("caretrail.chainer")

BATCH = 500
POLL_SECONDS = 0.5
PASS_GAP_SECONDS = 0.25
"""The least time between two batches: under load one links the commits of 0.25 s, not one
commit each (measured: a transaction per command at one connection otherwise)."""
T = TypeVar("T")

_LAST_LINKS = """
SELECT t.id AS tenant_id, c.seq, c.link
  FROM unnest($1::uuid[]) AS t(id)
  LEFT JOIN LATERAL (SELECT seq, link FROM audit_chain WHERE tenant_id = t.id
                      ORDER BY seq DESC LIMIT 1) c ON true
"""
_INSERT_LINKS = """
INSERT INTO audit_chain (tenant_id, seq, event_id, position, recorded_at, link)
SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::bigint[], $5::timestamptz[],
                     $6::bytea[])
"""
# Every tenant with a chain, without reading every link (a loose index scan of the primary key).
_TENANTS = """
WITH RECURSIVE t AS (
  (SELECT tenant_id FROM audit_chain ORDER BY tenant_id LIMIT 1)
  UNION ALL
  SELECT (SELECT c.tenant_id FROM audit_chain c WHERE c.tenant_id > t.tenant_id
           ORDER BY c.tenant_id LIMIT 1) FROM t WHERE t.tenant_id IS NOT NULL
)
SELECT tenant_id FROM t WHERE tenant_id IS NOT NULL
"""
_HEADS = """
SELECT t.id AS tenant_id, c.seq, c.link, c.position, c.recorded_at
  FROM unnest($1::uuid[]) AS t(id)
  JOIN LATERAL (SELECT seq, link, position, recorded_at FROM audit_chain WHERE tenant_id = t.id
                 ORDER BY seq DESC LIMIT 1) c ON true
"""


class Chainer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        book: HeadBook,
        sign_seconds: float,
        signal: AppendSignal | None = None,
    ) -> None:
        """`pool` connects as caretrail_projector."""
        self._pool = pool
        self.book = book
        self._sign_seconds = sign_seconds
        self._signal = signal
        self._unsigned: set[UUID] = set()
        self._signed_at = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def chain_once(self, batch: int = BATCH) -> int:
        """Link the next committed events (at most `batch`); how many were linked."""
        async with self._pool.acquire() as conn, conn.transaction():
            place = await conn.fetchrow(
                "SELECT tx_id::text AS tx_id, position FROM audit_chain_place FOR UPDATE"
            )
            assert place is not None, "migration 0022 creates the place row"
            rows = await conn.fetch(
                f"SELECT {EVENT_COLUMNS}, e.tx_id::text AS tx_id"
                " FROM read_events_after($1::text::xid8, $2, $3) e",
                place["tx_id"],
                place["position"],
                batch,
            )
            if not rows:
                return 0
            tenants = list({r["tenant_id"] for r in rows})
            last = {
                r["tenant_id"]: (r["seq"] or 0, r["link"])
                for r in await conn.fetch(_LAST_LINKS, tenants)
            }
            linked = []
            for row in rows:
                seq, previous = last[row["tenant_id"]]
                current = link(previous, seq + 1, linked_event(row))
                last[row["tenant_id"]] = (seq + 1, current)
                linked.append(
                    (
                        row["tenant_id"],
                        seq + 1,
                        row["event_id"],
                        row["position"],
                        row["recorded_at"],
                        current,
                    )
                )
            await conn.execute(_INSERT_LINKS, *(list(c) for c in zip(*linked, strict=True)))
            await conn.execute(
                "UPDATE audit_chain_place SET tx_id = $1::text::xid8, position = $2",
                rows[-1]["tx_id"],
                rows[-1]["position"],
            )
        self._unsigned.update(tenants)
        return len(rows)

    async def sign_heads(self, tenants: list[UUID] | None = None) -> list[Head]:
        """Sign the current head of each tenant chained since the last signing (or of
        `tenants`) and write it to the head book."""
        wanted = list(self._unsigned) if tenants is None else tenants
        self._unsigned.difference_update(wanted)
        self._signed_at = time.monotonic()
        if not wanted:
            return []
        async with self._pool.acquire() as conn:
            unmarked_until = await conn.fetchval("SELECT unmarked_until FROM audit_chain_place")
            rows = await conn.fetch(_HEADS, wanted)
        now = dt.datetime.now(dt.UTC)
        heads = [
            Head(
                r["tenant_id"],
                r["seq"],
                r["link"],
                r["position"],
                r["recorded_at"],
                unmarked_until,
                now,
            )
            for r in rows
        ]
        await asyncio.to_thread(lambda: [self.book.write(h) for h in heads])
        return heads

    async def sign_every_tenant(self) -> list[Head]:
        async with self._pool.acquire() as conn:
            tenants = [r["tenant_id"] for r in await conn.fetch(_TENANTS)]
        return await self.sign_heads(tenants)

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Links what has committed, signs the heads, then returns."""
        if self._task is None:
            return
        self._stopping.set()
        await self._task
        self._task = None

    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        woken = self._signal.subscribe() if self._signal is not None else asyncio.Event()
        try:
            await self._guarded(self.sign_every_tenant)  # heads a process left unsigned
            while not self._stopping.is_set():
                began = time.monotonic()
                linked = await self._guarded(self.chain_once)
                if time.monotonic() - self._signed_at >= self._sign_seconds:
                    await self._guarded(self.sign_heads)
                if linked == BATCH:
                    continue
                woken.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_first(woken, self._stopping), timeout=POLL_SECONDS)
                if not self._stopping.is_set():
                    await pace(began, PASS_GAP_SECONDS)
            while await self._guarded(self.chain_once) == BATCH:
                pass
            await self._guarded(self.sign_heads)
        finally:
            if self._signal is not None:
                self._signal.unsubscribe(woken)

    async def _guarded(self, step: Callable[[], Awaitable[T]]) -> T | None:
        """A failing step is logged and retried on the next round: the chainer never dies."""
        try:
            return await step()
        except (*TRANSIENT, asyncpg.PostgresError):
            log.exception("chainer_step_failed", step=getattr(step, "__name__", "step"))
            await asyncio.sleep(POLL_SECONDS)
            return None


async def _first(*events: asyncio.Event) -> None:
    waits = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
