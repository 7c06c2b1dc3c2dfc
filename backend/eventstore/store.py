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

from backend.eventstore.types import (
    AppendResult,
    GlobalCheckpoint,
    RecordedEvent,
    StreamAppend,
    StreamVersion,
    WrongExpectedVersion,
)

_APPEND = "SELECT * FROM append_events($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
_COLUMNS = (
    "position, event_id, tenant_id, stream_type, stream_id, version, event_type, "
    "schema_version, data, metadata, occurred_at, recorded_at, tx_id::text::bigint AS tx_id"
)
_SET_TENANT = "SELECT set_config('app.tenant_id', $1, true)"


class EventStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def transaction(self, tenant_id: UUID) -> AsyncIterator[asyncpg.Connection]:
        """A transaction in which only `tenant_id`'s rows exist."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_SET_TENANT, str(tenant_id))
            yield conn

    async def append(
        self,
        tenant_id: UUID,
        appends: Sequence[StreamAppend],
        conn: asyncpg.Connection | None = None,
    ) -> AppendResult:
        """Append to one or more streams atomically. Retrying the same event ids returns the
        original result instead of writing duplicates."""
        args = _append_args(tenant_id, appends)
        try:
            rows = await (conn or self._pool).fetch(_APPEND, *args)
        except asyncpg.UniqueViolationError as e:
            # Two identical appends raced; the loser re-runs and receives the winner's result.
            if conn is not None or e.constraint_name != "events_event_id_key":
                raise
            rows = await self._pool.fetch(_APPEND, *args)
        except asyncpg.PostgresError as e:
            if getattr(e, "sqlstate", None) == "CT409":
                raise _wrong_version(e) from e
            raise
        versions: dict[UUID, StreamVersion] = {}
        for row in rows:
            versions[row["o_stream_id"]] = StreamVersion(
                row["o_stream_type"], row["o_stream_id"], row["o_version"]
            )
        for a in appends:  # streams appended with no events keep their (checked) version
            versions.setdefault(
                a.stream_id, StreamVersion(a.stream_type, a.stream_id, a.expected_version)
            )
        return AppendResult(
            tuple(versions.values()), max((r["o_position"] for r in rows), default=0)
        )

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

    async def read_streams_of_type(
        self, conn: asyncpg.Connection, stream_type: str
    ) -> list[RecordedEvent]:
        """Every event of every stream of a type, grouped by stream in version order."""
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE stream_type = $1 ORDER BY stream_id, version",
            stream_type,
        )
        return [_recorded(r) for r in rows]


class GlobalReader:
    """Reads every tenant's events in the gap-safe global order (tx_id, position).

    Only rows written by transactions older than the oldest transaction still running are
    returned, so an event that commits late can never appear behind a checkpoint already passed.
    Connect as the `caretrail_relay` role.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def read_after(
        self, checkpoint: GlobalCheckpoint, limit: int = 500
    ) -> list[RecordedEvent]:
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM events"
            " WHERE (tx_id, position) > ($1::text::xid8, $2)"
            " AND tx_id < pg_snapshot_xmin(pg_current_snapshot())"
            " ORDER BY tx_id, position LIMIT $3",
            str(checkpoint.tx_id),
            checkpoint.position,
            limit,
        )
        return [_recorded(r) for r in rows]


def _append_args(tenant_id: UUID, appends: Sequence[StreamAppend]) -> list[Any]:
    stream_index: list[int] = []
    ids: list[UUID] = []
    types: list[str] = []
    schemas: list[int] = []
    data: list[dict[str, Any]] = []
    meta: list[dict[str, Any]] = []
    occurred: list[dt.datetime] = []
    for i, a in enumerate(appends, start=1):
        for e in a.events:
            stream_index.append(i)
            ids.append(e.event_id)
            types.append(e.event_type)
            schemas.append(e.schema_version)
            data.append(e.data)
            meta.append(e.metadata)
            occurred.append(e.occurred_at)
    return [
        tenant_id,
        [a.stream_type for a in appends],
        [a.stream_id for a in appends],
        [a.expected_version for a in appends],
        stream_index,
        ids,
        types,
        schemas,
        data,
        meta,
        occurred,
    ]


def _wrong_version(e: asyncpg.PostgresError) -> WrongExpectedVersion:
    d = orjson.loads(getattr(e, "detail", None) or "{}")
    return WrongExpectedVersion(d["stream_type"], UUID(d["stream_id"]), d["expected"], d["actual"])


def _recorded(r: asyncpg.Record) -> RecordedEvent:
    return RecordedEvent(
        position=r["position"],
        event_id=r["event_id"],
        tenant_id=r["tenant_id"],
        stream_type=r["stream_type"],
        stream_id=r["stream_id"],
        version=r["version"],
        event_type=r["event_type"],
        schema_version=r["schema_version"],
        data=r["data"],
        metadata=r["metadata"],
        occurred_at=r["occurred_at"],
        recorded_at=r["recorded_at"],
        tx_id=r["tx_id"],
    )
