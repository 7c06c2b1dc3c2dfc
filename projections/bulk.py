"""Rebuilding a StateProjection at the speed of the database.

The per-batch path (`StateProjection.apply`, as the runners use it) must assume nothing: for
every batch of a few hundred events it reads the rows they touch, folds, and upserts through
JSON. A rebuild knows more and uses it:

- Reading: the store in its global order, thousands of events per statement, below an event
  horizon taken once per pass (`GlobalReader.horizon`). Every transaction below the horizon
  that could write events had ended when it was taken, so the events below it are a closed
  set, which keyset pages read whole and gap-safe without a horizon query each. A pass that
  reaches its horizon starts another with a new one; a pass that finds nothing ends the
  rebuild (what comes later is the live projection's, after the swap). The next chunk is read
  while one is folded.
- Unsealing: one key query per chunk for all of its subjects (`keys.wrapped_keys`, made as
  the chunk is read), each subject's key unwrapped once (`keys.open_parted`). PostgreSQL hands
  each sealed event over taken apart (its data without the sealed member, the member's nonce
  and ciphertext: see `_SCAN`), so no JSON holding a ciphertext is decoded and no data copied.
  Keys are not kept beyond the chunk: a key destroyed meanwhile must read as erased from then
  on, as it does for every other reader.
- Folding: each stream's state stays in memory across chunks; a stream whose first event in a
  chunk is version 1 is new, so nothing is looked up. At most `cached_streams` states are
  kept, the least recently folded evicted first; an evicted stream that has more events is read
  back from the shadow, as is every stream a resumed rebuild continues.
- Writing: one COPY per chunk of the rows it changed (those the shadow already holds deleted
  first) and the shadow's checkpoint, in one transaction, while the next chunk is folded: an
  interrupted rebuild resumes after the last chunk committed.

Memory: three chunks of events (`batch_size`: one read ahead, one folding, one writing) with
their rows, and at most `cached_streams` folded states beside them.

A chunk that cannot be folded (an event the aggregate refuses, a seal that does not open) is
applied again through the per-batch path, which parks the shadow at the event that failed,
exactly as it would park the live projection.

Rows are written by the owner's connection: PostgreSQL refuses COPY into a table whose
row-level security applies to the writer, and the owner is exempt while the shadow's security
is enabled but not forced (projections/rebuild.py `_unforced`; the API's role stays under it).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import itertools
import operator
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from backend.eventstore.db import TRANSIENT
from backend.eventstore.store import GlobalReader
from backend.eventstore.types import GlobalCheckpoint
from backend.kernel.events import DomainEvent, revive_data
from backend.privacy import keys
from projections import tracking
from projections.catchup import CatchUpRunner
from projections.framework import StateProjection

Progress = Callable[[int, int], None]
"""Called with (events applied so far, events still ahead) after every batch."""
Key = tuple[UUID, UUID]
"""A stream: (tenant id, stream id)."""
Folded = dict[Key, tuple[Any, int]]
"""Streams' states with the version each reflects."""
_Rows = tuple[list[str], list[tuple[Any, ...]]]
"""Columns, and a row of values for each."""

_SCAN = (
    "SELECT e.tx_id::text::bigint, e.position, e.stream_type = $4, e.tenant_id, e.stream_id,"
    " e.version, e.event_id, e.event_type, e.schema_version,"
    " CASE WHEN s.sealed THEN e.data - 'sealed' WHEN e.stream_type = $4 THEN e.data END,"
    " s.sealed, CASE WHEN s.sealed THEN e.data #>> '{sealed,nonce}' END,"
    " CASE WHEN s.sealed THEN e.data #>> '{sealed,ct}' END"
    " FROM events e, LATERAL (SELECT e.stream_type = $4 AND jsonb_typeof(e.data) = 'object'"
    " AND e.data ? 'sealed' AS sealed) s"
    " WHERE (e.tx_id, e.position) > ($1::text::xid8, $2) AND e.tx_id < $3::text::xid8"
    " ORDER BY e.tx_id, e.position LIMIT $5"
)
"""The next chunk below a horizon: every event, in the global order (a walk of the index on
it), with the data of the projection's own only, taken apart: the data without its sealed
member, whether it has one (an object's member only, as `is_sealed` finds it in a dict; data
that is no object is left whole, for reviving to refuse), and that member's nonce and
ciphertext as stored (NULL where it has none: altered, it reads as unreadable). The client
then decodes no JSON holding the ciphertext and copies no data to take the member out. Filtering
on the stream type in SQL lets the planner prefer that column's index for a rare type and sort
all of its remaining events again for every chunk. `e.` everywhere: ORDER BY tx_id alone names
the output column, a bigint, which no index orders."""
# Column indexes in a _SCAN row.
_TX, _POSITION, _MINE, _TENANT, _STREAM, _VERSION, _EVENT_ID, _TYPE, _SCHEMA, _DATA = range(10)
_SEALED, _NONCE, _CIPHERTEXT = range(10, 13)
_KEY = operator.itemgetter(_TENANT, _STREAM)
_VERSION_OF = operator.itemgetter(_VERSION)


class RebuildFailed(Exception):
    @classmethod
    def parked(cls, name: str) -> RebuildFailed:
        return cls(f"{name} is parked; see GET /v1/projections or the checkpoint row")

    @classmethod
    def moved(cls, name: str) -> RebuildFailed:
        return cls(f"{name} was moved by another runner (a second rebuild?); rebuild again")


class StreamStates:
    """Folded states kept between chunks: at most `limit`, the least recently folded out
    first."""

    def __init__(self, projection: StateProjection, limit: int) -> None:
        self.projection = projection
        self.limit = limit
        self._kept: Folded = {}
        self._initial = (projection.aggregate.initial(), 0)
        """Where every new stream starts. One for all: a state is a value that evolve never
        changes (aggregates are pure; it returns a new state), and a fresh one per stream (a
        dataclass with its default dicts, thrown away by the stream's first event) was about
        4% of a rebuild's CPU."""

    def unknown(self, rows: Sequence[asyncpg.Record]) -> list[Key]:
        """Streams of a chunk to read back from the shadow: neither kept here nor starting in
        this chunk."""
        # Each stream's first version in the chunk: the last one written wins, so the rows go
        # in backwards (in C: itemgetter, zip and dict rather than a loop over the rows).
        backwards = rows[::-1]
        firsts = dict(zip(map(_KEY, backwards), map(_VERSION_OF, backwards), strict=True))
        kept = self._kept
        return [k for k, version in firsts.items() if version > 1 and k not in kept]

    def fold(
        self, events: Sequence[tuple[Key, int, DomainEvent]], loaded: Folded
    ) -> tuple[Folded, list[Key]]:
        """Every stream of the chunk folded on from its state, and those of them the shadow
        already holds a row for. An event at or below a state's version is skipped, as the
        per-batch path does."""
        folded: Folded = {}
        existing: list[Key] = []
        evolve = self.projection.aggregate.evolve
        for key, version, event in events:
            state, at = folded.get(key) or self._start(key, loaded, existing)
            folded[key] = (evolve(state, event), version) if version > at else (state, at)
        return folded, existing

    def _start(self, key: Key, loaded: Folded, existing: list[Key]) -> tuple[Any, int]:
        """Where a stream's fold starts in a chunk: its state kept or read back (the shadow
        holds its row), or the aggregate's initial state."""
        known = self._kept.get(key) or loaded.get(key)
        if known is None:
            return self._initial
        existing.append(key)
        return known

    def keep(self, folded: Folded) -> None:
        """Remember a chunk's states (its rows are written before any later chunk's)."""
        kept = self._kept
        for key, value in folded.items():
            kept.pop(key, None)
            kept[key] = value
        excess = len(kept) - self.limit
        for key in list(itertools.islice(kept, max(excess, 0))):
            del kept[key]

    def forget(self) -> None:
        """Let every state go: the per-batch path wrote rows (read them back instead), or the
        rebuild ends."""
        self._kept.clear()


class StateRebuild:
    """Replays the store into a StateProjection's shadow table (see the module's doc)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        writer: asyncpg.Connection,
        shadow: StateProjection,
        *,
        batch_size: int,
        cached_streams: int,
    ) -> None:
        self.pool = pool
        self.writer = writer
        self.shadow = shadow
        self.batch_size = batch_size
        self.states = StreamStates(shadow, cached_streams)
        self.reader = GlobalReader(pool)
        self._writing: asyncio.Future[None] | None = None

    async def run(self, at: GlobalCheckpoint, progress: Progress, ahead: int) -> int:
        """Replay from `at` until a pass finds nothing new; the number of events read (of
        every stream type, as `ahead` counts them)."""
        read = 0

        def committed(events: int) -> None:
            nonlocal read
            read += events
            progress(read, max(ahead - read, 0))

        with _collector_paused():
            try:
                while True:
                    before = read
                    at = await self._pass(at, committed)
                    if read == before:
                        return read
            finally:
                await _cancelled(self._writing)
                self.states.forget()  # freed now, or the collector's first pass would visit them

    async def _pass(
        self, at: GlobalCheckpoint, committed: Callable[[int], None]
    ) -> GlobalCheckpoint:
        """Every chunk below a new horizon applied and written; the checkpoint after them. A
        method of its own so that its last chunk (thousands of records, dicts and ids) is freed
        when it returns, before the collector resumes: else the collector's first pass walked
        them (30 ms in the bench)."""
        horizon = await self.reader.horizon()
        async with contextlib.aclosing(self._chunks(at, horizon)) as chunks:
            async for chunk in chunks:
                at = await self._apply(at, chunk, committed)
        await self._written()
        return at

    async def _chunks(self, at: GlobalCheckpoint, horizon: int) -> AsyncGenerator[_Chunk, None]:
        """The chunks after `at` below the horizon, each read (with its subjects' keys) while
        the one before is folded."""
        reading = asyncio.ensure_future(self._read(at, horizon))
        try:
            while chunk := await reading:
                full = len(chunk.rows) == self.batch_size
                if full:
                    reading = asyncio.ensure_future(self._read(chunk.end, horizon))
                    await asyncio.sleep(0)  # its query leaves now, not after the fold
                yield chunk
                if not full:
                    return
        finally:
            await _cancelled(reading)

    async def _read(self, at: GlobalCheckpoint, horizon: int) -> _Chunk | None:
        """The next chunk, and the wrapped keys of its sealed events' subjects; None past the
        horizon."""
        rows = await self.pool.fetch(
            _SCAN,
            str(at.tx_id),
            at.position,
            str(horizon),
            self.shadow.aggregate.stream_type,
            self.batch_size,
        )
        if not rows:
            return None
        mine = [row for row in rows if row[_MINE]]
        sealed = [_parted(row) for row in mine if row[_SEALED]]
        subjects = keys.subjects_of(sealed)
        wrapped = await keys.wrapped_keys(self.pool, subjects) if sealed else {}
        return _Chunk(rows, mine, sealed, subjects, wrapped)

    async def _apply(
        self, at: GlobalCheckpoint, chunk: _Chunk, committed: Callable[[int], None]
    ) -> GlobalCheckpoint:
        """Fold one chunk and start writing it; the checkpoint after it (its last event,
        whatever its stream type)."""
        unknown = self.states.unknown(chunk.mine)
        if unknown:
            await self._written()  # an evicted stream may be in the chunk still being written
        loaded = await self._load(unknown)
        try:
            events = _events(chunk)
            await asyncio.sleep(0)  # the next chunk's read sends its key query meanwhile
            folded, existing = self.states.fold(events, loaded)
            out = self._rows(folded)
        except (*TRANSIENT, asyncpg.PostgresError):
            raise
        except Exception:
            await self._written()
            await self._per_batch(at, len(chunk.rows))
            committed(len(chunk.rows))
            return chunk.end
        self.states.keep(folded)  # the rows are in the shadow before the next chunk's are
        await self._written()
        done = functools.partial(committed, len(chunk.rows))
        self._writing = asyncio.ensure_future(self._write(at, chunk.end, out, existing, done))
        return chunk.end

    def _rows(self, folded: Folded) -> _Rows:
        """The rows of the folded streams, and their columns (those `to_row` names)."""
        values_of = self.shadow.values_of
        records = [
            (tenant, stream, *values_of(state), version)
            for (tenant, stream), (state, version) in folded.items()
        ]
        if not records:
            return [], []
        first = self.shadow.to_row(next(iter(folded.values()))[0])
        return ["tenant_id", self.shadow.key, *first, "version"], records

    async def _load(self, streams: list[Key]) -> Folded:
        """Streams' states as the shadow holds them (those it has)."""
        if not streams:
            return {}
        shadow = self.shadow
        rows = await self.writer.fetch(
            f"SELECT t.* FROM {shadow.table} t"
            " JOIN unnest($1::uuid[], $2::uuid[]) AS k(tenant_id, id)"
            f" ON t.tenant_id = k.tenant_id AND t.{shadow.key} = k.id",
            [tenant for tenant, _ in streams],
            [stream for _, stream in streams],
        )
        return {(r["tenant_id"], r[shadow.key]): (shadow.from_row(r), r["version"]) for r in rows}

    async def _write(
        self,
        at: GlobalCheckpoint,
        end: GlobalCheckpoint,
        rows: _Rows,
        existing: list[Key],
        committed: Callable[[], None],
    ) -> None:
        """One transaction: the shadow's checkpoint from `at` to `end`, the chunk's rows."""
        conn, shadow = self.writer, self.shadow
        columns, records = rows
        async with conn.transaction():
            await self._lock(conn, at)
            if existing:
                await conn.execute(
                    f"DELETE FROM {shadow.table} t"
                    " USING unnest($1::uuid[], $2::uuid[]) AS k(tenant_id, id)"
                    f" WHERE t.tenant_id = k.tenant_id AND t.{shadow.key} = k.id",
                    [tenant for tenant, _ in existing],
                    [stream for _, stream in existing],
                )
            if records:
                await conn.copy_records_to_table(shadow.table, records=records, columns=columns)
            await tracking.move_alone(conn, shadow.name, end)
        committed()

    async def _lock(self, conn: asyncpg.Connection, at: GlobalCheckpoint) -> None:
        """The shadow's checkpoint, locked for the chunk's transaction; it must be where this
        rebuild left it (no second rebuild of the same projection writes beside it)."""
        if await tracking.lock_alone(conn, self.shadow.name) != at:
            raise RebuildFailed.moved(self.shadow.name)

    async def _written(self) -> None:
        """Wait for the chunk being written to commit."""
        if self._writing is not None:
            writing, self._writing = self._writing, None
            await writing

    async def _per_batch(self, at: GlobalCheckpoint, events: int) -> None:
        """A chunk that failed to fold (its `events` after `at`), through the per-batch path:
        it applies what it can and parks the shadow at the event that fails. The chunk is read
        again whole: below the horizon nothing can have joined it."""
        self.states.forget()
        chunk = await self.reader.read_after(at, events)
        runner = CatchUpRunner(self.pool, self.shadow)
        if await runner.apply_batch(at, chunk) < len(chunk):
            if (await runner.checkpoint()).state != "running":
                raise RebuildFailed.parked(self.shadow.name)
            raise RebuildFailed.moved(self.shadow.name)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the rebuild. Every chunk allocates hundreds of
    thousands of objects, many of which live on for a while (states, rows), and each burst of
    them made the collector traverse all the states kept so far once more: a third of the
    rebuild's CPU time in the bench, and collecting only the young generations after each
    chunk still cost a tenth. Reference counting frees what a chunk discards; the few cycles a
    rebuild leaves (ten, whatever its length, in the bench: asyncio's) wait for the collector,
    which resumes when the rebuild ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True)
class _Chunk:
    """Events read in one statement: all of them (`rows`), the projection's own (`mine`), its
    sealed ones with their subjects, and those subjects' wrapped keys."""

    rows: list[asyncpg.Record]
    mine: list[asyncpg.Record]
    sealed: list[keys.Parted]
    subjects: list[keys.Subject]
    wrapped: keys.WrappedKeys

    @property
    def end(self) -> GlobalCheckpoint:
        return GlobalCheckpoint(self.rows[-1][_TX], self.rows[-1][_POSITION])


def _parted(row: asyncpg.Record) -> keys.Parted:
    return row[_TENANT], row[_EVENT_ID], row[_TYPE], row[_DATA], row[_NONCE], row[_CIPHERTEXT]


def _events(chunk: _Chunk) -> list[tuple[Key, int, DomainEvent]]:
    """The chunk's own events revived, sealed fields opened."""
    opened = iter(keys.open_parted(chunk.wrapped, chunk.sealed, chunk.subjects))
    events = []
    for row in chunk.mine:
        # unreadable fields read as such (docs/temporal.md)
        data = next(opened).data if row[_SEALED] else row[_DATA]
        event = revive_data(row[_TYPE], row[_SCHEMA], data)
        events.append(((row[_TENANT], row[_STREAM]), row[_VERSION], event))
    return events


async def _cancelled(task: asyncio.Future[Any] | None) -> None:
    """Stop a read or write still under way (the rebuild stops early) and wait until it has."""
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
