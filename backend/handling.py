"""Command handling: load streams, decide, append with expected versions, in one transaction.

A handler is an async function taking a `CommandSession`. `run_command` gives it a tenant
transaction and re-runs it when a concurrent writer moved one of its streams (the decision is
then taken again on fresh state), up to a bound.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID, uuid4

import asyncpg

from backend.auth.principal import Principal
from backend.eventstore import EventStore, NewEvent, StreamAppend, WrongExpectedVersion
from backend.kernel.aggregate import Aggregate
from backend.kernel.errors import Conflict, DomainError
from backend.kernel.events import DomainEvent, to_data
from backend.loading import fold_stream, save_snapshot
from backend.privacy import keys
from backend.privacy.sealing import sealed_data

S = TypeVar("S")
T = TypeVar("T")
MAX_ATTEMPTS = 12


class PreconditionFailed(DomainError):
    code = "VERSION_CONFLICT"
    status = 412


@dataclass(frozen=True)
class RequestContext:
    principal: Principal
    request_id: str
    correlation_id: str
    now: dt.datetime
    if_match: int | None = None
    causation_id: str | None = None
    """What caused the command when it is not the request itself (a reaction's source event)."""

    def metadata(self) -> dict[str, Any]:
        return {
            "actor": self.principal.actor,
            "roles": sorted(self.principal.roles),
            "request_id": self.request_id,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id or self.request_id,
        }


@dataclass(frozen=True)
class Loaded(Generic[S]):
    aggregate: Aggregate[S]
    stream_id: UUID
    state: S
    version: int
    last_position: int

    @property
    def exists(self) -> bool:
        return self.version > 0


@dataclass(frozen=True)
class CommandResult:
    id: UUID
    version: int
    position: int
    view: dict[str, Any]

    def body(self) -> dict[str, Any]:
        return {**self.view, "id": self.id, "version": self.version, "position": self.position}


class CommandSession:
    def __init__(
        self, store: EventStore, conn: asyncpg.Connection, tenant_id: UUID, ctx: RequestContext
    ) -> None:
        self.store = store
        self.conn = conn
        self.tenant_id = tenant_id
        self.ctx = ctx
        self._loaded: dict[tuple[str, UUID], Loaded[Any]] = {}
        self._data_keys: dict[UUID, bytes] = {}
        self.plugins: dict[str, str] = {}
        """Specialty plugins (name -> version) the command captured values under; recorded in
        the metadata of every event it appends (see backend/plugins)."""

    async def _data_key(self, subject: UUID) -> bytes:
        """The subject's data key, looked up once per command."""
        if subject not in self._data_keys:
            self._data_keys[subject] = await keys.data_key_for_writing(
                self.conn, self.tenant_id, subject
            )
        return self._data_keys[subject]

    def note_plugins(self, versions: dict[str, str]) -> None:
        self.plugins.update(versions)

    async def load(
        self, aggregate: Aggregate[S], stream_id: UUID, *, conditional: bool = False
    ) -> Loaded[S]:
        """Fold a stream, once per command: handlers that consult the same stream (the tenant's
        policy, a patient) share one read until the command appends to it. `conditional` marks
        the stream the caller's If-Match refers to."""
        key = (aggregate.stream_type, stream_id)
        loaded = self._loaded.get(key)
        if loaded is None:
            folded = await fold_stream(self.conn, aggregate, stream_id)
            loaded = Loaded(aggregate, stream_id, folded.state, folded.version, folded.position)
            self._loaded[key] = loaded
        if conditional and self.ctx.if_match is not None and self.ctx.if_match != loaded.version:
            msg = f"If-Match {self.ctx.if_match} but the current version is {loaded.version}"
            raise PreconditionFailed(msg)
        return loaded

    async def save(
        self,
        primary: Loaded[Any],
        events: list[DomainEvent],
        others: dict[UUID, tuple[Loaded[Any], list[DomainEvent]]] | None = None,
        *,
        occurred_at: dt.datetime | None = None,
    ) -> CommandResult:
        """Append `events` to the primary stream and each other stream's events to it, all or
        nothing, each expected at the version it was loaded at. `occurred_at` is the valid time
        of the primary stream's events when it is not now (a fact charted late, already checked
        with `backend.kernel.clinical_time`)."""
        appends = [await self._append(primary, events, occurred_at or self.ctx.now)]
        appends += [
            await self._append(loaded, evs, self.ctx.now) for loaded, evs in (others or {}).values()
        ]
        appends = [a for a in appends if a.events]
        new_state = _evolved(primary, events)
        if not appends:
            return CommandResult(
                primary.stream_id,
                primary.version,
                primary.last_position,
                primary.aggregate.view(new_state),
            )
        result = await self.store.append(self.tenant_id, appends, self.conn)
        for appended in appends:  # a later load in this command reads them again
            self._loaded.pop((appended.stream_type, appended.stream_id), None)
        for loaded, evs in [(primary, events), *(others or {}).values()]:
            after = loaded.version + len(evs)
            if evs and self.store.snapshots.due(
                loaded.aggregate.stream_type, loaded.version, after
            ):
                state = new_state if loaded is primary else _evolved(loaded, evs)
                await save_snapshot(
                    self.conn, self.tenant_id, loaded.aggregate, loaded.stream_id, after, state
                )
        return CommandResult(
            primary.stream_id,
            result.version_of(primary.stream_id) if events else primary.version,
            result.position,
            primary.aggregate.view(new_state),
        )

    async def _append(
        self, loaded: Loaded[Any], events: list[DomainEvent], occurred_at: dt.datetime
    ) -> StreamAppend:
        metadata = self.ctx.metadata()
        if self.plugins:
            metadata["plugins"] = dict(sorted(self.plugins.items()))
        new = []
        for e in events:
            event_id, data = uuid4(), to_data(e)
            if e.personal:
                key = await self._data_key(UUID(str(data[e.subject])))
                data = sealed_data(type(e), data, key, event_id)
            new.append(
                NewEvent(event_id, e.type_name(), data, occurred_at, metadata, e.schema_version)
            )
        return StreamAppend(
            loaded.aggregate.stream_type, loaded.stream_id, loaded.version, tuple(new)
        )


def _evolved(loaded: Loaded[S], events: list[DomainEvent]) -> S:
    state = loaded.state
    for event in events:
        state = loaded.aggregate.evolve(state, event)
    return state


Handler = Callable[[CommandSession], Awaitable[T]]


async def run_command(
    store: EventStore,
    ctx: RequestContext,
    tenant_id: UUID,
    handler: Handler[T],
    before_commit: Callable[[CommandSession, T], Awaitable[None]] | None = None,
) -> T:
    for attempt in range(MAX_ATTEMPTS):
        try:
            async with store.transaction(tenant_id) as conn:
                session = CommandSession(store, conn, tenant_id, ctx)
                result = await handler(session)
                if before_commit is not None:
                    await before_commit(session, result)
                return result
        except WrongExpectedVersion:
            if ctx.if_match is not None:
                raise PreconditionFailed("the stream changed concurrently") from None
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
    raise Conflict("CONCURRENCY_CONFLICT", "too many concurrent changes; try again")
