"""A projection turns events into read-model rows. Its rows and its checkpoint change in the
same transaction, so an event delivered again changes nothing.

Projections apply a batch at a time (the runners hand them up to a few hundred events in order)
so that a rebuild costs a few statements per batch, not two round trips per event.

`StateProjection` covers the common case where a read model is an aggregate's state: each row is
folded with the aggregate's own `evolve`, so a read model can never disagree with the command
side about what an event means. A row remembers the stream version it reflects and an event at
or below it is skipped, which keeps applying idempotent whatever delivers the events.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import asyncpg

from backend.eventstore import RecordedEvent
from backend.kernel import state_codec
from backend.kernel.aggregate import Aggregate
from backend.kernel.events import revive
from backend.privacy import keys
from backend.privacy.sealing import ERASED_TEXT


class Projection(Protocol):
    @property
    def name(self) -> str: ...

    def wants(self, stream_type: str, event_type: str) -> bool:
        """Whether an event of this kind can change anything here. A runner may skip the others
        without a transaction (it still records how far it got, in time)."""

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        """Apply events in global order, inside the caller's transaction."""


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
    row_values: Callable[[Any], tuple[Any, ...]] | None = None
    """`to_row`'s values alone, in its order, when the projection has a cheaper way to them
    than the mapping (a bulk rebuild writes rows by the thousand)."""

    def values_of(self, state: Any) -> tuple[Any, ...]:
        """A state's row values, in `to_row`'s order."""
        if self.row_values is not None:
            return self.row_values(state)
        return tuple(self.to_row(state).values())

    def wants(self, stream_type: str, event_type: str) -> bool:
        return stream_type == self.aggregate.stream_type

    def view_of(self, row: asyncpg.Record) -> dict[str, Any]:
        """A row as the API shows it: the aggregate's view of its state, with its version."""
        return {**self.aggregate.view(self.from_row(row)), "version": row["version"]}

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        mine = [e for e in events if e.stream_type == self.aggregate.stream_type]
        if not mine:
            return
        mine = await keys.unseal(conn, mine)
        begun: dict[tuple[UUID, UUID], bool] = {}
        for e in mine:
            begun.setdefault((e.tenant_id, e.stream_id), e.version == 1)
        streams = list(begun)
        rows = await self._rows(conn, [s for s in streams if not begun[s]])
        states: dict[tuple[UUID, UUID], tuple[Any, int]] = {
            (r["tenant_id"], r[self.key]): (self.from_row(r), r["version"]) for r in rows
        }
        changed: set[tuple[UUID, UUID]] = set()
        for event in mine:
            stream = (event.tenant_id, event.stream_id)
            state, version = states.get(stream, (self.aggregate.initial(), 0))
            if event.version <= version:
                continue  # already reflected
            state = self.aggregate.evolve(state, revive(event))
            states[stream] = (state, event.version)
            changed.add(stream)
        if changed:
            await self._upsert(conn, [(s, *states[s]) for s in streams if s in changed])

    async def _rows(
        self, conn: asyncpg.Connection, streams: list[tuple[UUID, UUID]]
    ) -> list[asyncpg.Record]:
        """The rows of `streams`. Streams whose first event of the batch is their first event
        have none to read (a stream's creation: most of a registration's batch); were they
        delivered again, the upsert leaves their row, as far or further on, alone."""
        if not streams:
            return []
        rows: list[asyncpg.Record] = await conn.fetch(
            f"SELECT t.* FROM {self.table} t"
            " JOIN unnest($1::uuid[], $2::uuid[]) AS k(tenant_id, id)"
            f" ON t.tenant_id = k.tenant_id AND t.{self.key} = k.id",
            [tenant for tenant, _ in streams],
            [stream for _, stream in streams],
        )
        return rows

    async def _upsert(
        self, conn: asyncpg.Connection, rows: list[tuple[tuple[UUID, UUID], Any, int]]
    ) -> None:
        """All changed rows in one statement: PostgreSQL casts each JSON field to its column. A
        row is only ever moved forward (a stream folded from its first event again, delivered
        twice, does not overwrite a row that is as far or further on)."""
        records = [
            {"tenant_id": tenant, self.key: stream, **self.to_row(state), "version": version}
            for (tenant, stream), state, version in rows
        ]
        columns = ", ".join(records[0])
        updates = ", ".join(
            f"{c} = EXCLUDED.{c}" for c in records[0] if c not in ("tenant_id", self.key)
        )
        await conn.execute(
            f"INSERT INTO {self.table} AS t ({columns})"
            f" SELECT {columns} FROM jsonb_populate_recordset(NULL::{self.table}, $1::jsonb)"
            f" ON CONFLICT (tenant_id, {self.key}) DO UPDATE SET {updates}"
            " WHERE t.version < EXCLUDED.version",
            records,
        )


def mirrored(
    name: str,
    aggregate: Aggregate[Any],
    table: str,
    key: str,
    extras: Callable[[Any], Mapping[str, Any]] | None = None,
) -> StateProjection:
    """A StateProjection whose table mirrors the state: one column per state field (the state's
    `id` in the `key` column), plus `extras` computed from the state for queries (search
    columns, durations). Rows revive through the state codec, so nested values (tuples, ids,
    times in dicts) come back typed exactly as the state declares them."""
    state_type = type(aggregate.initial())
    fields = [f.name for f in dataclasses.fields(state_type) if f.name != "id"]

    def to_row(state: Any) -> Mapping[str, Any]:
        row = {f: getattr(state, f) for f in fields}
        return {**row, **extras(state)} if extras is not None else row

    # The fields read at once (a tuple from attrgetter only for two fields or more).
    fields_of = operator.attrgetter(*fields) if len(fields) > 1 else None

    def row_values(state: Any) -> tuple[Any, ...]:
        """to_row's values without the mapping."""
        read = (
            fields_of(state) if fields_of is not None else tuple(getattr(state, f) for f in fields)
        )
        return (*read, *extras(state).values()) if extras is not None else read

    def from_row(r: asyncpg.Record) -> Any:
        columns = {"id": r[key], **{f: r[f] for f in fields}}
        return state_codec.decode(state_type, state_codec.encode(columns))

    return StateProjection(name, aggregate, table, key, to_row, from_row, row_values)


ERASURE = "PatientErased"
"""The event after which a patient's sealed fields no longer open (backend/patients)."""


async def redact_erased(
    conn: asyncpg.Connection, table: str, events: Sequence[RecordedEvent], assignments: str
) -> None:
    """Redact the rows of `table` about each patient erased in `events` (`patient_id` column):
    they were folded while the patient's key still opened their sealed fields. `assignments`
    is the UPDATE's SET list; in it, $3 (when used) is the text an erased field reads as."""
    erased = [(e.tenant_id, e.stream_id) for e in events if e.event_type == ERASURE]
    if erased:
        text = (ERASED_TEXT,) if "$3" in assignments else ()
        await conn.execute(
            f"UPDATE {table} t SET {assignments}"
            " FROM unnest($1::uuid[], $2::uuid[]) AS erased(tenant_id, patient_id)"
            " WHERE t.tenant_id = erased.tenant_id AND t.patient_id = erased.patient_id",
            [tenant for tenant, _ in erased],
            [patient for _, patient in erased],
            *text,
        )


@dataclass(frozen=True)
class ErasureRedacting(StateProjection):
    """A state projection whose rows about a patient are also redacted when the patient is
    erased (`redact_erased`, with `redacted` as the SET list): they were folded while the
    patient's key still opened their sealed fields, and become what a rebuild folding the
    redacted events gives (text "[erased]", an optional text null, a dict {})."""

    redacted: str = ""

    def wants(self, stream_type: str, event_type: str) -> bool:
        return super().wants(stream_type, event_type) or event_type == ERASURE

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        await super().apply(conn, events)
        await redact_erased(conn, self.table, events, self.redacted)


def redacting(projection: StateProjection, redacted: str) -> ErasureRedacting:
    fields = {f.name: getattr(projection, f.name) for f in dataclasses.fields(projection)}
    return ErasureRedacting(**fields, redacted=redacted)
