"""The catch-up subscription: projections follow the store's gap-safe global order directly.

This is the embedded default (no Kafka). Projections run together in a `CatchUpGroup`: each
batch is read once, and every attached member that wants anything in it applies it in one
transaction that also moves the group's checkpoint (projections/tracking.py). A member that
wants nothing in a batch costs nothing. A handler that fails parks its projection alone: the
batch is applied again with each member in a savepoint, event by event for the one that failed,
which is then detached and parked at the event it failed on (neither retrying in a loop nor
skipping it) until `caretrail projections resume NAME`. A detached projection (resumed, rebuilt
or new) catches up on its own with a `CatchUpRunner` and joins the group when it gets there.

The group is woken when a command of its own process commits (`AppendSignal`) and otherwise
polls now and then, for appends made by other processes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import asyncpg
import structlog

from backend.eventstore import RecordedEvent
from backend.eventstore.db import TRANSIENT
from backend.eventstore.signal import AppendSignal
from backend.eventstore.store import GlobalReader
from backend.eventstore.types import GlobalCheckpoint
from backend.privacy import keys
from projections import liveness, quarantine, tracking
from projections.framework import Projection
from projections.liveness import Heartbeat
from projections.tracking import after, place

log = structlog.get_logger("caretrail.projections")
# The database went away: retry later, do not blame (park) the projection.
POLL_SECONDS = 0.25
"""How often a group looks for events appended by other processes (its own wake it at once)."""
REFRESH_SECONDS = 2.0
"""How often a group reads its members' rows again (a resume, a rebuild or another process
may have changed them; a group that finds nothing to do reads them at once)."""
GATHER_SECONDS = 0.002
"""How long a woken group lets further commits gather before it reads: under load one batch then
covers several commands (fewer reads and transactions per command), at a small cost in lag."""


class _Moved(Exception):
    """Another runner advanced the checkpoint first."""


@dataclass
class _Batch:
    """A group's next batch: from `start`, its events once read (None: read in the
    transaction that applies them)."""

    start: GlobalCheckpoint
    events: list[RecordedEvent] | None


@dataclass(frozen=True)
class Checkpoint:
    at: GlobalCheckpoint
    state: str


def _wants(projection: Projection, events: Sequence[RecordedEvent]) -> bool:
    return any(projection.wants(e.stream_type, e.event_type) for e in events)


class CatchUpRunner:
    """One projection following the store alone, on its own checkpoint (detached from any
    group): a rebuild's shadow, or a projection catching up with its group."""

    def __init__(
        self, pool: asyncpg.Pool, projection: Projection, *, batch_size: int = 500
    ) -> None:
        self.pool = pool
        self.projection = projection
        self.reader = GlobalReader(pool)
        self.batch_size = batch_size

    async def checkpoint(self) -> Checkpoint:
        name = self.projection.name
        await tracking.ensure(self.pool, [name])
        tracked = (await tracking.read(self.pool, [name]))[name]
        return Checkpoint(tracked.own, tracked.state)

    async def step(self) -> int:
        """Apply the next batch; the number of events applied (0: caught up, parked, or
        attached to a group, which applies its events instead)."""
        name = self.projection.name
        tracked = (await tracking.read(self.pool, [name])).get(name)
        if tracked is None:  # first run: start at the beginning of the global order
            await tracking.ensure(self.pool, [name])
            return await self.step()
        if not tracked.running or tracked.follows is not None:
            return 0
        events = await self.reader.read_after(tracked.own, self.batch_size)
        return await self.apply_batch(tracked.own, events) if events else 0

    async def apply_batch(self, at: GlobalCheckpoint, events: list[RecordedEvent]) -> int:
        """Apply events read after the checkpoint `at`; how many were applied (fewer when one
        failed and parked the projection, none when another runner moved it meanwhile)."""
        try:
            await self._apply(at, events)
        except _Moved:
            return 0
        except TRANSIENT:
            raise
        except Exception:
            return await self._apply_one_by_one(at, events)
        return len(events)

    async def _apply(
        self, at: GlobalCheckpoint, events: list[RecordedEvent], *, applying: bool = True
    ) -> None:
        """Apply `events` and move past them (only move past them, if not `applying`)."""
        async with self.pool.acquire() as conn, conn.transaction():
            if await tracking.lock_alone(conn, self.projection.name) != at:
                raise _Moved
            if applying and _wants(self.projection, events):
                await self.projection.apply(conn, events)
            await tracking.move_alone(conn, self.projection.name, place(events[-1]))

    async def _apply_one_by_one(self, at: GlobalCheckpoint, events: list[RecordedEvent]) -> int:
        name = self.projection.name
        for done, event in enumerate(events):
            try:
                await self._apply(at, [event])
            except (_Moved, *TRANSIENT):
                raise
            except Exception as e:
                if not await quarantine.holds(self.pool, name, event.position):
                    await tracking.park(self.pool, name, at, event, e)
                    return done
                await self._apply(at, [event], applying=False)
            at = place(event)
        return len(events)


class BatchFeed:
    """Hands the batches one group reads to another group of the same process that follows the
    store from the same place (the reactions follow the projections' reading): the store is
    then read once per batch. A consumer that is elsewhere (it lags, or it is ahead) reads for
    itself; only the latest batch is kept."""

    def __init__(self) -> None:
        self.offered = AppendSignal()
        self._batch: tuple[GlobalCheckpoint, list[RecordedEvent]] | None = None

    def offer(self, start: GlobalCheckpoint, events: list[RecordedEvent]) -> None:
        self._batch = (start, events)
        self.offered.notify()

    def take(self, start: GlobalCheckpoint) -> list[RecordedEvent] | None:
        """The latest batch if it was read from `start`, else None (read it yourself)."""
        if self._batch is not None and self._batch[0] == start:
            return self._batch[1]
        return None


class CatchUpGroup:
    """Projections following the store together, from one reading of it, in one transaction
    per batch; members that are detached catch up alone and then join.

    What it costs, per batch: one read of the store and, if any member wants any of the batch,
    one transaction. The members' rows are kept in memory between batches (read again every
    REFRESH_SECONDS, and whenever another process moved the group first). A batch no member wants
    moves the group's place in memory only; it is written with the next transaction, or before
    the group waits (`lazy` false: read-your-writes waiters may be waiting on it), or at most
    POLL_SECONDS later (`lazy`: nobody waits on the reactions). `feed` passes each batch read
    on to another group; `source` is the feed this group takes its batches from when it can
    (it is then woken by that feed rather than by the store's appends).

    `durable` false: a batch's transaction commits without waiting for the WAL flush. Only for
    what can be derived again from the store and is committed with its checkpoint (read
    models): a crash of PostgreSQL itself then loses the last moment's batches (up to three
    times wal_writer_delay) together with the checkpoint that passed them, and they are applied
    again; nothing is lost or applied twice. Waiting for the flush was the slowest statement of
    a batch (catch-up lag bench: COMMIT 1.5 ms p50 on a loaded two-core machine, 0.8 without).
    Not for the reactions: what they append or send must not be undone after others saw it."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        name: str,
        projections: Sequence[Projection],
        *,
        batch_size: int = 500,
        signal: AppendSignal | None = None,
        applied: AppendSignal | None = None,
        poll_seconds: float = POLL_SECONDS,
        feed: BatchFeed | None = None,
        source: BatchFeed | None = None,
        lazy: bool = False,
        durable: bool = True,
    ) -> None:
        self.pool = pool
        self.name = name
        self.members = {p.name: p for p in projections}
        self.alone = {p.name: CatchUpRunner(pool, p, batch_size=batch_size) for p in projections}
        self.reader = GlobalReader(pool)
        self.batch_size = batch_size
        self.signal = signal
        self.applied = applied
        """Notified after each batch written (read-your-writes waiters of this process)."""
        self.poll_seconds = poll_seconds
        self.feed = feed
        self.source = source
        self.lazy = lazy
        self.durable = durable
        self._row = tracking.group_row(name)
        self._rows: dict[str, tracking.Tracked] | None = None
        self._rows_read = 0.0
        self._fresh = False
        """Whether the last step read the rows rather than using those kept in memory."""
        self._written: GlobalCheckpoint | None = None
        """The group's place as the database has it (the one in memory may be ahead)."""
        self._written_at = 0.0
        self.heartbeat = Heartbeat(pool, liveness.IN_PROCESS, name)

    async def start(self) -> None:
        """Rows for the group and every member, so that each shows in status from the start,
        and the group's first heartbeat."""
        await tracking.ensure(self.pool, [self._row, *self.members])
        await self.heartbeat.beat()

    @property
    def _dirty(self) -> bool:
        return self._rows is not None and self._rows[self._row].own != self._written

    async def _tracked(self) -> dict[str, tracking.Tracked]:
        self._fresh = self._rows is None or time.monotonic() - self._rows_read > REFRESH_SECONDS
        if not self._fresh:
            assert self._rows is not None
            return self._rows
        await self.flush()  # what is only in memory first, or it would be read back behind
        names = [self._row, *self.members]
        rows = await tracking.read(self.pool, names)
        if len(rows) < len(names):
            await self.start()
            rows = await tracking.read(self.pool, names)
        self._rows, self._rows_read = rows, time.monotonic()
        self._written = rows[self._row].own
        return rows

    async def step(self) -> int:
        """Apply the next batch to the group and let laggards catch up; events applied. When
        there is nothing to do by the rows kept in memory, they are read again first (an
        operator may have resumed a member)."""
        applied = await self._step()
        if applied == 0 and not self._fresh:
            self._rows = None
            applied = await self._step()
        await self.flush()
        return applied

    async def _step(self) -> int:
        rows = await self._tracked()
        group = rows[self._row]
        attached = {n: r.own for n, r in rows.items() if r.follows == self._row and r.running}
        alone = {n: r.own for n, r in rows.items() if n in self.members and r.follows is None}
        alone = {n: at for n, at in alone.items() if rows[n].running}
        joining = {n: at for n, at in alone.items() if at >= group.own}
        applied = 0
        for name in alone.keys() - joining.keys():
            applied += await self.alone[name].step()
        if applied:
            self._rows = None  # laggards moved: the next step sees whether they can join
            return applied
        if not attached and not joining:
            return applied
        effective = {n: max(at, group.own) for n, at in {**attached, **joining}.items()}
        start = min(effective.values())
        events = self.source.take(start) if self.source is not None else None
        if events is not None:
            events = events[: self.batch_size]  # this group's transactions stay this short
            if not events and not joining:
                return applied
        batch = _Batch(start, events)
        return applied + await self._apply_batch(effective, list(joining), batch)

    async def _apply_batch(
        self,
        effective: Mapping[str, GlobalCheckpoint],
        joining: list[str],
        batch: _Batch,
    ) -> int:
        try:
            return await self._apply(effective, joining, batch, isolate=False)
        except TRANSIENT:
            self._rows = None
            raise
        except _Moved:
            self._rows = None  # another process moved the group: read where it is
            return 0
        except Exception:
            if batch.events is None:
                raise  # the read itself failed: no handler ran
            # Someone's handler failed: again, each member on its own, to park only that one.
            applied = await self._apply(effective, joining, batch, isolate=True)
            self._rows = None  # and see who parked
            return applied

    async def _apply(
        self,
        effective: Mapping[str, GlobalCheckpoint],
        joining: list[str],
        batch: _Batch,
        *,
        isolate: bool,
    ) -> int:
        """The batch applied in one transaction with the group's move. A batch not yet read is
        read in that same transaction: one commit for the read and what it leads to (a read
        alone, then a transaction, was two commits per command at one connection). A batch
        in hand (from a feed) that nobody wants opens no transaction at all."""
        assert self._rows is not None
        work = None if batch.events is None else self._plan(effective, joining, batch.events)
        if work is None and batch.events is not None:
            return len(batch.events)
        async with self.pool.acquire() as conn, conn.transaction():
            if batch.events is None:
                batch.events = await self.reader.read_after(batch.start, self.batch_size, conn)
                if self.feed is not None:
                    self.feed.offer(batch.start, batch.events)  # even none: none need look
                work = self._plan(effective, joining, batch.events)
                if work is None:
                    return len(batch.events)
            assert work is not None
            events = batch.events
            reached = place(events[-1]) if events else self._rows[self._row].own
            locked = await tracking.move_batch(
                conn,
                self.name,
                self._since(),
                reached,
                sorted(work.keys() | set(joining)),
                durable=self.durable,
            )
            if locked is None:
                raise _Moved
            attached, detached = locked
            joined = detached & set(joining)
            with keys.opening_once():  # the members that unseal share one opening
                for name, evs in work.items():
                    if name not in attached and name not in joined:
                        continue  # detached meanwhile (a rebuild, a park by another process)
                    if isolate:
                        await self._isolated(conn, name, effective[name], evs)
                    else:
                        await self.members[name].apply(conn, evs)
            if joined:
                await tracking.attach(conn, self.name, sorted(joined))
        # Rows that changed under the batch (detached, or attached by another instance): read
        # them again rather than trust memory.
        changed = (work.keys() - attached - joined) | (set(joining) & attached)
        self._remember(reached, joined, dropped=changed)
        return len(events)

    def _plan(
        self,
        effective: Mapping[str, GlobalCheckpoint],
        joining: list[str],
        events: list[RecordedEvent],
    ) -> dict[str, list[RecordedEvent]] | None:
        """Each member's events of the batch, for the members that want any of them; None when
        nobody does (and nobody joins): the group's place then moves past the batch in memory
        only, written with the next transaction or before the group waits."""
        work = {name: [e for e in events if after(e, effective[name])] for name in effective}
        work = {n: evs for n, evs in work.items() if _wants(self.members[n], evs)}
        if work or joining:
            return work
        assert self._rows is not None
        reached = place(events[-1]) if events else self._rows[self._row].own
        self._rows[self._row] = dataclasses.replace(self._rows[self._row], own=reached)
        return None

    def _remember(self, reached: GlobalCheckpoint, joined: set[str], dropped: set[str]) -> None:
        """After a committed batch: the group's new place and who joined it, without reading
        the rows again; if members were detached under it (`dropped`), read them again."""
        self._written, self._written_at = reached, time.monotonic()
        rows = self._rows
        if rows is None or dropped:
            self._rows = None
            return
        rows[self._row] = dataclasses.replace(rows[self._row], own=reached)
        for name in joined:
            rows[name] = dataclasses.replace(rows[name], follows=self._row)
        if self.applied is not None:
            self.applied.notify()

    async def flush(self) -> None:
        """Write the group's place where only memory has it (batches nobody wanted)."""
        if not self._dirty:
            return
        assert self._rows is not None
        reached = self._rows[self._row].own
        async with self.pool.acquire() as conn, conn.transaction():
            moved = await tracking.move_batch(
                conn, self.name, self._since(), reached, [], durable=self.durable
            )
            if moved is None:
                self._rows = None  # another process moved it: it re-read those batches too
                return
        self._remember(reached, set(), set())

    def _since(self) -> GlobalCheckpoint:
        """Where the database has the group, as this process last read or wrote it."""
        assert self._written is not None  # set with the rows, which every step reads first
        return self._written

    async def _isolated(
        self,
        conn: asyncpg.Connection,
        name: str,
        applied: GlobalCheckpoint,
        events: list[RecordedEvent],
    ) -> None:
        """Apply `events` to one member inside savepoints; if one fails, the member parks at it
        (its earlier events kept) and the rest of the group goes on."""
        failed = await quarantine.first_failure(conn, self.members[name], events)
        if failed is not None:
            index, error = failed
            at = place(events[index - 1]) if index else applied
            await tracking.park(conn, name, at, events[index], error)

    async def run(self, stop: asyncio.Event) -> None:
        waker = self.source.offered if self.source is not None else self.signal
        wake = waker.subscribe() if waker is not None else asyncio.Event()
        try:
            while not stop.is_set():
                if self.source is None and wake.is_set():
                    await asyncio.sleep(GATHER_SECONDS)  # let more commits join this batch
                wake.clear()  # an append from here on wakes the wait below at once
                try:
                    await self.heartbeat.beat()  # busy or idle: at most once a second
                    applied = await self._step()
                    if applied >= self.batch_size:
                        continue  # a full batch: there may be more at once
                    overdue = time.monotonic() - self._written_at > self.poll_seconds
                    if not self.lazy or overdue:
                        await self.flush()
                except (*TRANSIENT, asyncpg.PostgresError) as e:
                    log.warning("projections_step_failed", group=self.name, error=str(e))
                    self._rows = None
                    await asyncio.sleep(1)
                except Exception:
                    # Never let the group stop for good: a handler's failure parks its
                    # member, so what lands here is the runner's own fault. Say so loudly and
                    # go on from what the database says.
                    log.exception("projections_group_failed", group=self.name)
                    self._rows = None
                    await asyncio.sleep(1)
                await _until(stop, wake, seconds=self.poll_seconds)
        finally:
            if waker is not None:
                waker.unsubscribe(wake)


async def _until(stop: asyncio.Event, wake: asyncio.Event, *, seconds: float) -> None:
    """Wait for a wake-up, a stop or `seconds`, whichever comes first."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
