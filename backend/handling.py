"""Command handling: load streams, decide, append with expected versions, in one transaction.

A handler is an async function taking a `CommandSession`. `run_command` gives it a tenant
transaction and re-runs it when a concurrent writer moved one of its streams (the decision is
then taken again on fresh state), up to a bound. A handler that needs slow work done first (a
specialty plugin's calculators) raises `OutsideWork`: the transaction ends, the work runs
outside any transaction, and the handler runs again with its results in `session.prepared`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import random
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID, uuid4

import asyncpg
from opentelemetry import trace

from backend import observability
from backend.auth.principal import Principal
from backend.eventstore import EventStore, NewEvent, StreamAppend, WrongExpectedVersion
from backend.kernel.aggregate import Aggregate
from backend.kernel.errors import Conflict, DomainError
from backend.kernel.events import DomainEvent, to_data
from backend.kernel.streams import TENANT
from backend.loading import fold_stream, save_snapshot
from backend.privacy import keys
from backend.privacy.sealing import sealed_data

S = TypeVar("S")
T = TypeVar("T")
MAX_ATTEMPTS = 12
CONCURRENCY_CONFLICT = "CONCURRENCY_CONFLICT"


class PreconditionFailed(DomainError):
    code = "VERSION_CONFLICT"
    status = 412


class OutsideWork(Exception):
    """Raised by a handler that needs `work` done before it can decide, work too slow to hold
    a transaction open for (a plugin's calculators, under their own time budget). The work
    leaves its results in `CommandSession.prepared`, which every attempt of the command
    shares; the handler is then run again, on fresh state."""

    def __init__(self, work: Callable[[], Awaitable[None]]) -> None:
        super().__init__("work to do outside the transaction")
        self.work = work


@dataclass(frozen=True)
class RequestContext:
    principal: Principal
    request_id: str
    correlation_id: str
    now: dt.datetime
    if_match: int | None = None
    causation_id: str | None = None
    """What caused the command when it is not the request itself (a reaction's source event)."""
    traceparent: str | None = None
    """The W3C trace context the command was asked in (the request's span, or the event a
    reaction answers): the parent of the command's span when no span is open around it."""
    command: str | None = None
    """What the command is, for its span and `caretrail_commands`: the route ("POST
    /v1/patients"); the principal's actor (a reaction, a dispatcher) when None."""

    @property
    def command_name(self) -> str:
        return self.command or self.principal.actor

    def metadata(self) -> dict[str, Any]:
        metadata = {
            "actor": self.principal.actor,
            "roles": sorted(self.principal.roles),
            "request_id": self.request_id,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id or self.request_id,
        }
        # The command's own span, so that what follows the events (the relay's publish, the
        # projections, the reactions) hangs under the command that appended them.
        traceparent = observability.current_traceparent() or self.traceparent
        if traceparent is not None:
            metadata["traceparent"] = traceparent
        return metadata


@dataclass(frozen=True)
class Loaded(Generic[S]):
    aggregate: Aggregate[S]
    stream_id: UUID
    state: S
    version: int
    last_position: int
    unreadable: bool = False
    """Some of its sealed fields did not open: its state is never snapshotted, so that later
    reads keep seeing (and flagging) the altered events themselves."""

    @property
    def exists(self) -> bool:
        return self.version > 0


@dataclass(frozen=True)
class CommandResult:
    id: UUID
    version: int
    position: int
    view: dict[str, Any]
    stream_type: str
    """The type of the command's primary stream (`id` is its id)."""
    shown_once: dict[str, Any] | None = None
    """Fields of this response only, never stored for a replay (a new API key's secret)."""

    def body(self) -> dict[str, Any]:
        return {**self.view, "id": self.id, "version": self.version, "position": self.position}


TENANT_STATES_KEPT = 10_000
"""Tenants whose folded stream a process keeps for its commands (the oldest go first)."""
_TENANT_STATES: weakref.WeakKeyDictionary[EventStore, dict[int, Loaded[Any]]] = (
    weakref.WeakKeyDictionary()
)
"""Per store, each tenant's own stream as a command last folded it. Nearly every command reads
its tenant's policy (time zone, phone region, specialties): a command whose transaction finds
the tenant's stream at the kept version (EventStore.tenant_transaction, in the round trip that
sets the tenant) decides on the kept state instead of reading and folding the stream again
(7-8% of the API's CPU per `POST /v1/patients`, profiled, and one round trip)."""


class CommandSession:
    def __init__(
        self,
        store: EventStore,
        conn: asyncpg.Connection,
        tenant_id: UUID,
        ctx: RequestContext,
        prepared: dict[Hashable, Any] | None = None,
        tenant_version: int | None = None,
    ) -> None:
        self.store = store
        self.conn = conn
        self.tenant_id = tenant_id
        self.tenant_version = tenant_version
        """The version of the tenant's own stream this transaction began with (None: not
        known, the stream is read like any other)."""
        self.ctx = ctx
        self.prepared = {} if prepared is None else prepared
        """Results of work done outside the transaction (see `OutsideWork`)."""
        self._loaded: dict[tuple[str, UUID], Loaded[Any]] = {}
        self._data_keys: dict[UUID, bytes] = {}
        self.plugins: dict[str, str] = {}
        """Specialty plugins (name -> version) the command captured values under; recorded in
        the metadata of every event it appends (see backend/specialties)."""

    async def _data_key(self, subject: UUID) -> bytes:
        """The subject's data key, looked up once per command."""
        if subject not in self._data_keys:
            self._data_keys[subject] = await keys.data_key_for_writing(
                self.conn, self.tenant_id, subject
            )
        return self._data_keys[subject]

    def note_plugins(self, versions: dict[str, str]) -> None:
        self.plugins.update(versions)

    def new(self, aggregate: Aggregate[S], stream_id: UUID) -> Loaded[S]:
        """A stream this command creates under an id the caller has just made (a fresh uuid4):
        there is nothing to read, and the append expects no stream, so a clash could only
        fail, never overwrite. Saves a round trip on every command that creates something."""
        loaded = Loaded(aggregate, stream_id, aggregate.initial(), 0, 0)
        self._loaded[(aggregate.stream_type, stream_id)] = loaded
        return loaded

    async def state_of(self, aggregate: Aggregate[S], stream_id: UUID) -> S:
        """Another stream's state as of this transaction, to decide on (a context reads
        another's streams through that context's model, never its service)."""
        return (await self.load(aggregate, stream_id)).state

    async def load(
        self, aggregate: Aggregate[S], stream_id: UUID, *, conditional: bool = False
    ) -> Loaded[S]:
        """Fold a stream, once per command: handlers that consult the same stream (the tenant's
        policy, a patient) share one read until the command appends to it. `conditional` marks
        the stream the caller's If-Match refers to."""
        key = (aggregate.stream_type, stream_id)
        loaded = self._loaded.get(key) or self._kept_tenant(key)
        if loaded is None:
            folded = await fold_stream(self.conn, aggregate, stream_id)
            loaded = Loaded(
                aggregate,
                stream_id,
                folded.state,
                folded.version,
                folded.position,
                bool(folded.unreadable),
            )
            self._keep_tenant(key, loaded)
        self._loaded[key] = loaded
        if conditional and self.ctx.if_match is not None and self.ctx.if_match != loaded.version:
            msg = f"If-Match {self.ctx.if_match} but the current version is {loaded.version}"
            raise PreconditionFailed(msg)
        return loaded

    def _is_tenant_as_begun(self, key: tuple[str, UUID]) -> bool:
        return self.tenant_version is not None and key == (TENANT, self.tenant_id)

    def _kept_tenant(self, key: tuple[str, UUID]) -> Loaded[Any] | None:
        """The tenant's stream as kept, if this transaction began with it at that version; as
        this command names it (a worker's tenant id is asyncpg's UUID type, which responses
        cannot encode)."""
        if not self._is_tenant_as_begun(key):
            return None
        kept = _TENANT_STATES.get(self.store, {}).get(self.tenant_id.int)
        if kept is None or kept.version != self.tenant_version:
            return None
        return dataclasses.replace(kept, stream_id=key[1])

    def _keep_tenant(self, key: tuple[str, UUID], loaded: Loaded[Any]) -> None:
        """Keep the tenant's stream as folded, if that is the version the transaction began
        with (else it moved meanwhile, and the next command folds it again)."""
        if not self._is_tenant_as_begun(key) or loaded.unreadable:
            return
        if loaded.version != self.tenant_version:
            return
        kept = _TENANT_STATES.setdefault(self.store, {})
        kept.pop(self.tenant_id.int, None)
        kept[self.tenant_id.int] = loaded
        if len(kept) > TENANT_STATES_KEPT:
            del kept[next(iter(kept))]

    async def save(
        self,
        primary: Loaded[Any],
        events: list[DomainEvent],
        others: dict[UUID, tuple[Loaded[Any], list[DomainEvent]]] | None = None,
        *,
        occurred_at: dt.datetime | None = None,
        others_at: dt.datetime | None = None,
    ) -> CommandResult:
        """Append `events` to the primary stream and each other stream's events to it, all or
        nothing, each expected at the version it was loaded at. `occurred_at` is the valid time
        of the primary stream's events when it is not now (a fact charted late, already checked
        with `backend.kernel.clinical_time`); `others_at` that of the other streams' events,
        when they record the same clinical fact (a ward's bed taken by a late-charted
        admission) rather than the act of recording it."""
        appends = [await self._append(primary, events, occurred_at or self.ctx.now)]
        appends += [
            await self._append(loaded, evs, others_at or self.ctx.now)
            for loaded, evs in (others or {}).values()
        ]
        appends = [a for a in appends if a.events]
        new_state = _evolved(primary, events)
        if not appends:
            return CommandResult(
                primary.stream_id,
                primary.version,
                primary.last_position,
                primary.aggregate.view(new_state),
                primary.aggregate.stream_type,
            )
        started = time.perf_counter()
        result = await self.store.append(self.tenant_id, appends, self.conn)
        observability.APPEND_SECONDS.labels(primary.aggregate.stream_type).observe(
            time.perf_counter() - started
        )
        _describe(appends, result.position)
        for appended in appends:  # a later load in this command reads them again
            self._loaded.pop((appended.stream_type, appended.stream_id), None)
        for loaded, evs in [(primary, events), *(others or {}).values()]:
            after = loaded.version + len(evs)
            if (
                evs
                and not loaded.unreadable
                and self.store.snapshots.due(loaded.aggregate.stream_type, loaded.version, after)
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
            primary.aggregate.stream_type,
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


def _describe(appends: list[StreamAppend], position: int) -> None:
    """What the command appended, on its span: a newcomer following a booking finds the streams,
    the event types and the global position there."""
    span = trace.get_current_span()
    span.set_attribute("caretrail.stream_type", appends[0].stream_type)
    span.set_attribute("caretrail.stream_id", str(appends[0].stream_id))
    span.set_attribute("caretrail.streams", [f"{a.stream_type}/{a.stream_id}" for a in appends])
    span.set_attribute("caretrail.event_types", [e.event_type for a in appends for e in a.events])
    span.set_attribute("caretrail.position", position)


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
) -> T:
    """Run `handler` in a command transaction, in a span of its own (a child of the span open
    now, or of `ctx.traceparent` when none is), counted by outcome."""
    parent = None if observability.current_trace() else observability.context_of(ctx.traceparent)
    name = ctx.command_name
    with observability.TRACER.start_as_current_span(
        f"command {name}",
        context=parent,
        attributes={"caretrail.tenant_id": str(tenant_id), "caretrail.command": name},
    ):
        try:
            result = await _attempts(store, ctx, tenant_id, handler)
        except DomainError as e:
            raced = e.code in (CONCURRENCY_CONFLICT, PreconditionFailed.code)
            observability.COMMANDS.labels(name, "conflict" if raced else "rejected").inc()
            raise
        except Exception:
            observability.COMMANDS.labels(name, "error").inc()
            raise
        observability.COMMANDS.labels(name, "ok").inc()
        return result


def utc_now() -> dt.datetime:
    """The clock of background workers, replaced in their tests."""
    return dt.datetime.now(dt.UTC)


async def run_as_worker(
    store: EventStore,
    actor: str,
    tenant_id: UUID,
    correlation_id: str,
    now: dt.datetime,
    handler: Handler[T],
) -> T:
    """A command of a background worker (a timer, a dispatcher): in `tenant_id`, as `actor`
    with no role, correlated with what it works on."""
    ctx = RequestContext(
        principal=Principal(actor, tenant_id, frozenset()),
        request_id=str(uuid4()),
        correlation_id=correlation_id,
        now=now,
    )
    return await run_command(store, ctx, tenant_id, handler)


async def _attempts(
    store: EventStore, ctx: RequestContext, tenant_id: UUID, handler: Handler[T]
) -> T:
    prepared: dict[Hashable, Any] = {}
    for attempt in range(MAX_ATTEMPTS):
        try:
            async with store.tenant_transaction(tenant_id) as (conn, tenant_version):
                session = CommandSession(store, conn, tenant_id, ctx, prepared, tenant_version)
                return await handler(session)
        except WrongExpectedVersion:
            if ctx.if_match is not None:
                raise PreconditionFailed("the stream changed concurrently") from None
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        except OutsideWork as outside:
            await outside.work()  # the transaction has ended: nothing is held while it runs
    raise Conflict(CONCURRENCY_CONFLICT, "too many concurrent changes; try again")
