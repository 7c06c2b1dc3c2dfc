"""The event store API over PostgreSQL (see migrations/versions/0001_event_store.py).

Tenant isolation is PostgreSQL's job: every transaction sets `app.tenant_id` from the
authenticated principal and RLS does the rest. Appending is one call of `append_events`, a single
round trip that checks every stream's expected version and inserts the events atomically.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from backend.eventstore import marks
from backend.eventstore.signal import AppendSignal
from backend.eventstore.snapshots import SnapshotPolicy
from backend.eventstore.types import (
    ANY,
    AppendResult,
    GlobalCheckpoint,
    RecordedEvent,
    StreamAppend,
    StreamVersion,
    WrongExpectedVersion,
)

_APPEND = "SELECT * FROM append_events($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
_COLUMNS = (
    "position, event_id, tenant_id, stream_type, stream_id, version, event_type, "
    "schema_version, data, metadata, occurred_at, recorded_at, tx_id::text::bigint AS tx_id"
)
ANY_RETRIES = 5
"""Attempts of an append with expected version ANY that loses races for the next version."""
_ENTER_TENANT = "SELECT enter_tenant($1)"
"""Sets `app.tenant_id` and answers the version of the tenant's own stream (migration 0040)."""


class EventStore:
    def __init__(self, pool: asyncpg.Pool, snapshots: SnapshotPolicy | None = None) -> None:
        self._pool = pool
        self.snapshots = snapshots or SnapshotPolicy()
        self.appended = AppendSignal()
        """Notified after every committed append made through this store."""
        self._appending: set[asyncpg.Connection] = set()

    @asynccontextmanager
    async def transaction(self, tenant_id: UUID) -> AsyncIterator[asyncpg.Connection]:
        """A transaction in which only `tenant_id`'s rows exist. If it appends and commits, the
        store's followers in this process are woken."""
        async with self.tenant_transaction(tenant_id) as (conn, _):
            yield conn

    @asynccontextmanager
    async def tenant_transaction(
        self, tenant_id: UUID
    ) -> AsyncIterator[tuple[asyncpg.Connection, int]]:
        """`transaction`, with the version of the tenant's own stream as its first statement
        found it (0: none yet), in that same round trip."""
        async with self._pool.acquire() as conn:
            try:
                async with conn.transaction():
                    tenant_version: int = await conn.fetchval(_ENTER_TENANT, str(tenant_id))
                    yield conn, tenant_version
                if conn in self._appending:
                    self.appended.notify()
            finally:
                self._appending.discard(conn)

    async def append(
        self,
        tenant_id: UUID,
        appends: Sequence[StreamAppend],
        conn: asyncpg.Connection | None = None,
    ) -> AppendResult:
        """Append to one or more streams atomically, each at its expected version.

        Idempotent by event id when called without `conn`: if the same events were already
        appended (a retry, or a concurrent duplicate), the original result is returned. Inside
        a caller's transaction (`conn`) a duplicate raises, as that transaction is then lost.
        """
        args = _append_args(tenant_id, appends)
        any_version = any(a.expected_version == ANY for a in appends)
        for attempt in range(ANY_RETRIES):
            try:
                rows = await (conn or self._pool).fetch(_APPEND, *args)
            except asyncpg.PostgresError as e:
                conflict = _conflict(e, appends)
                if conn is None and (conflict is not None or _is_duplicate_event(e)):
                    earlier = await self._already_appended(tenant_id, appends)
                    if earlier is not None:
                        return earlier
                    if conflict is not None and any_version and attempt + 1 < ANY_RETRIES:
                        continue  # ANY lost a race for the next version: take the new one
                    if conflict is not None and conflict.actual is None:
                        conflict = await self._locate_conflict(tenant_id, appends)
                if conflict is not None:
                    raise conflict from e
                raise
            if conn is None:
                self.appended.notify()
            else:
                self._appending.add(conn)
            return _result(
                appends, [(r["o_stream_id"], r["o_version"], r["o_position"]) for r in rows]
            )
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _locate_conflict(
        self, tenant_id: UUID, appends: Sequence[StreamAppend]
    ) -> WrongExpectedVersion:
        """After losing a race: the first stream whose version is not the expected one."""
        async with self.transaction(tenant_id) as conn:
            rows = await conn.fetch(
                "SELECT stream_id, max(version) AS version FROM events"
                " WHERE stream_id = ANY($1) GROUP BY stream_id",
                [a.stream_id for a in appends],
            )
        actual = {r["stream_id"]: r["version"] for r in rows}
        lost = [a for a in appends if a.expected_version >= 0]
        lost.sort(key=lambda a: actual.get(a.stream_id, 0) == a.expected_version)
        stream = (lost or list(appends))[0]
        return WrongExpectedVersion(
            stream.stream_type,
            stream.stream_id,
            stream.expected_version,
            actual.get(stream.stream_id, 0),
        )

    async def _already_appended(
        self, tenant_id: UUID, appends: Sequence[StreamAppend]
    ) -> AppendResult | None:
        """The result of an earlier append of exactly these events, if there was one."""
        stream_of = {e.event_id: a.stream_id for a in appends for e in a.events}
        async with self.transaction(tenant_id) as conn:
            rows = await conn.fetch(
                "SELECT event_id, stream_id, version, position FROM events"
                " WHERE event_id = ANY($1)",
                list(stream_of),
            )
        if not stream_of or len(rows) != len(stream_of):
            return None
        if any(stream_of[r["event_id"]] != r["stream_id"] for r in rows):
            return None  # the same ids on other streams: a different append, refused
        return _result(appends, [(r["stream_id"], r["version"], r["position"]) for r in rows])

    async def read_stream(
        self,
        conn: asyncpg.Connection,
        stream_type: str,
        stream_id: UUID,
        *,
        up_to_version: int | None = None,
        recorded_by: dt.datetime | None = None,
        occurred_by: dt.datetime | None = None,
    ) -> list[RecordedEvent]:
        """Events of one stream in version order, optionally cut by version, by transaction
        time (recorded_at) and by valid time (occurred_at). `conn` is a tenant transaction."""
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE stream_type = $1 AND stream_id = $2"
            " AND ($3::bigint IS NULL OR version <= $3)"
            " AND ($4::timestamptz IS NULL OR recorded_at <= $4)"
            " AND ($5::timestamptz IS NULL OR occurred_at <= $5)"
            " ORDER BY version",
            stream_type,
            stream_id,
            up_to_version,
            recorded_by,
            occurred_by,
        )
        return [_recorded(r) for r in rows]

    async def stream_version(
        self,
        conn: asyncpg.Connection,
        stream_type: str,
        stream_id: UUID,
        *,
        recorded_by: dt.datetime | None = None,
    ) -> int:
        """The stream's version (0: no such stream), as recorded by then if given."""
        version: int = await conn.fetchval(
            "SELECT coalesce(max(version), 0) FROM events WHERE stream_type = $1"
            " AND stream_id = $2 AND ($3::timestamptz IS NULL OR recorded_at <= $3)",
            stream_type,
            stream_id,
            recorded_by,
        )
        return version

    async def stream_ids(
        self, conn: asyncpg.Connection, stream_type: str, *, recorded_by: dt.datetime | None = None
    ) -> list[UUID]:
        """The tenant's streams of `stream_type` (begun by then, if given), for the few types
        whose streams are few (a hospital's wards). `conn` is a tenant transaction."""
        rows = await conn.fetch(
            "SELECT stream_id FROM events WHERE stream_type = $1 AND version = 1"
            " AND ($2::timestamptz IS NULL OR recorded_at <= $2)",
            stream_type,
            recorded_by,
        )
        return [r["stream_id"] for r in rows]


class GlobalReader:
    """Reads every tenant's events in the gap-safe global order (tx_id, position).

    Only rows written by transactions older than the event horizon are returned: the oldest
    transaction that may still commit events (see `read_events_after` and `event_horizon` in
    migration 0002; the cluster-wide xmin when the reader may not see other sessions). So an
    event that commits late can never appear behind a checkpoint already passed. Connect as
    `caretrail_relay` or `caretrail_projector`.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def read_after(
        self,
        checkpoint: GlobalCheckpoint,
        limit: int = 500,
        conn: asyncpg.Connection | None = None,
    ) -> list[RecordedEvent]:
        """The next `limit` events after `checkpoint`; on `conn` when given (a transaction that
        will write what they lead to: one commit for the read and the write)."""
        rows = await (conn or self._pool).fetch(
            f"SELECT {_COLUMNS} FROM read_events_after($1::text::xid8, $2, $3)",
            str(checkpoint.tx_id),
            checkpoint.position,
            limit,
        )
        return [_recorded(r) for r in rows]

    async def horizon(self) -> int:
        """The event horizon now (a transaction id): every transaction below it that could
        write events has ended, so the events below it form a closed set that a later statement
        (a fresh snapshot) sees whole, and that can be read in as many statements as one likes.
        `read_after` takes it anew for every batch; a rebuild takes it once per pass."""
        horizon: int = await self._pool.fetchval("SELECT event_horizon()::text::bigint")
        return horizon


async def read_between(
    conn: asyncpg.Connection, after: GlobalCheckpoint, up_to: GlobalCheckpoint
) -> list[RecordedEvent]:
    """Every event in the global order after `after` and up to `up_to` inclusive, for a reader
    that knows them settled: `up_to` is a checkpoint some reader reached (so everything up to it
    had committed) and `conn` sees that checkpoint. A role reading every tenant's events."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM events"
        " WHERE (tx_id, position) > ($1::text::xid8, $2)"
        " AND (tx_id, position) <= ($3::text::xid8, $4) ORDER BY tx_id, position",
        str(after.tx_id),
        after.position,
        str(up_to.tx_id),
        up_to.position,
    )
    return [_recorded(r) for r in rows]


async def read_tenant_after(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant_id: UUID,
    after: GlobalCheckpoint,
    horizon: int,
    limit: int,
    event_types: Sequence[str] | None = None,
) -> list[RecordedEvent]:
    """One tenant's events after `after` in the gap-safe global order, of transactions below
    `horizon` (GlobalReader.horizon), optionally of `event_types` only. The statement runs
    after the horizon was taken: every transaction below it has ended by then, so the rows
    returned are final and nothing can commit behind them. `conn`: a tenant transaction (the
    feed), or a role reading every tenant's events (the webhook dispatcher); the index
    `events_by_tenant` (migration 0033) serves it."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM events WHERE tenant_id = $1"
        " AND (tx_id, position) > ($2::text::xid8, $3) AND tx_id < $4::text::xid8"
        " AND ($5::text[] IS NULL OR event_type = ANY($5::text[]))"
        " ORDER BY tx_id, position LIMIT $6",
        tenant_id,
        str(after.tx_id),
        after.position,
        str(horizon),
        None if event_types is None else list(event_types),
        limit,
    )
    return [_recorded(r) for r in rows]


def _append_args(tenant_id: UUID, appends: Sequence[StreamAppend]) -> list[Any]:
    stream_index: list[int] = []
    offsets: list[int] = []
    ids: list[UUID] = []
    types: list[str] = []
    schemas: list[int] = []
    data: list[str] = []
    meta: list[str] = []
    occurred: list[dt.datetime] = []
    writer_marks: list[bytes] = []
    for i, a in enumerate(appends, start=1):
        for offset, e in enumerate(a.events, start=1):
            stream_index.append(i)
            offsets.append(offset)
            ids.append(e.event_id)
            types.append(e.event_type)
            schemas.append(e.schema_version)
            data.append(orjson.dumps(e.data).decode())
            meta.append(orjson.dumps(e.metadata).decode())
            occurred.append(e.occurred_at)
            body = marks.canonical_body(
                e.event_id,
                tenant_id,
                a.stream_type,
                a.stream_id,
                e.event_type,
                e.schema_version,
                e.data,
                e.metadata,
                e.occurred_at,
            )
            writer_marks.append(marks.mark(body))
    return [
        tenant_id,
        [a.stream_type for a in appends],
        [a.stream_id for a in appends],
        [a.expected_version for a in appends],
        stream_index,
        offsets,
        ids,
        types,
        schemas,
        data,
        meta,
        occurred,
        writer_marks,
    ]


def _result(appends: Sequence[StreamAppend], rows: list[tuple[UUID, int, int]]) -> AppendResult:
    """Each stream's version after the append (streams given no events keep their checked
    version) and the position of the last event."""
    versions = {a.stream_id: a.expected_version for a in appends}
    for stream_id, version, _ in rows:
        versions[stream_id] = max(version, versions[stream_id])
    return AppendResult(
        tuple(StreamVersion(a.stream_type, a.stream_id, versions[a.stream_id]) for a in appends),
        max((position for _, _, position in rows), default=0),
    )


def _is_duplicate_event(e: asyncpg.PostgresError) -> bool:
    return (
        isinstance(e, asyncpg.UniqueViolationError) and e.constraint_name == "events_event_id_key"
    )


def _conflict(
    e: asyncpg.PostgresError, appends: Sequence[StreamAppend]
) -> WrongExpectedVersion | None:
    """The version conflict an append failed with: found up front by append_events (CT409), or
    by the unique index when a concurrent writer took the version first."""
    if getattr(e, "sqlstate", None) == "CT409":
        d = orjson.loads(getattr(e, "detail", None) or "{}")
        return WrongExpectedVersion(
            d["stream_type"], UUID(d["stream_id"]), d["expected"], d["actual"]
        )
    if isinstance(e, asyncpg.UniqueViolationError) and e.constraint_name == "events_stream_version":
        # RLS hides the violating key from the runtime role, so which stream lost is not known
        # here; the autocommit path finds out, a caller's transaction is retried as a whole.
        first = next(a for a in appends if a.events)
        return WrongExpectedVersion(
            first.stream_type, first.stream_id, first.expected_version, None
        )
    return None


def _recorded(r: asyncpg.Record) -> RecordedEvent:
    return RecordedEvent(**dict(r.items()))  # _COLUMNS names every field
