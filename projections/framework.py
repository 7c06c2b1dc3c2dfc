"""A projection turns events into read-model rows. Its rows and its checkpoint change in the
same transaction, so an event delivered again changes nothing.

`StateProjection` covers the common case where a read model is an aggregate's state: each row is
folded with the aggregate's own `evolve`, so a read model can never disagree with the command
side about what an event means. A row remembers the stream version it reflects and an event at
or below it is skipped, which keeps applying idempotent whatever delivers the events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import asyncpg

from backend.eventstore import RecordedEvent
from backend.kernel.aggregate import Aggregate
from backend.kernel.events import from_data


class Projection(Protocol):
    @property
    def name(self) -> str: ...

    async def apply(self, conn: asyncpg.Connection, event: RecordedEvent) -> None: ...


class TableProjection(Projection, Protocol):
    """A projection that owns one table (so it can be rebuilt into a shadow of it); a frozen
    dataclass with `name` and `table` fields."""

    @property
    def table(self) -> str: ...


@dataclass(frozen=True)
class StateProjection:
    """One row per stream of `aggregate.stream_type` in `table`, keyed by (tenant_id, `key`)."""

    name: str
    aggregate: Aggregate[Any]
    table: str
    key: str
    to_row: Callable[[Any], Mapping[str, Any]]
    from_row: Callable[[asyncpg.Record], Any]

    async def apply(self, conn: asyncpg.Connection, event: RecordedEvent) -> None:
        if event.stream_type != self.aggregate.stream_type:
            return
        row = await conn.fetchrow(
            f"SELECT * FROM {self.table} WHERE tenant_id = $1 AND {self.key} = $2",
            event.tenant_id,
            event.stream_id,
        )
        if row is not None and row["version"] >= event.version:
            return  # already reflected
        state = self.from_row(row) if row is not None else self.aggregate.initial()
        state = self.aggregate.evolve(state, from_data(event.event_type, event.data))
        await _upsert(
            conn,
            self.table,
            self.key,
            event.tenant_id,
            event.stream_id,
            {
                **self.to_row(state),
                "version": event.version,
            },
        )


async def _upsert(
    conn: asyncpg.Connection,
    table: str,
    key: str,
    tenant_id: UUID,
    stream_id: UUID,
    values: Mapping[str, Any],
) -> None:
    columns = ["tenant_id", key, *values]
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in values)
    await conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
        f" ON CONFLICT (tenant_id, {key}) DO UPDATE SET {updates}",
        tenant_id,
        stream_id,
        *values.values(),
    )
