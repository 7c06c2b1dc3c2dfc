"""A reaction subscribes to event types and runs commands in response.

Reactions follow the store's gap-safe global order exactly like the catch-up projections: each
is a `ReactionSubscription` handed to `projections.catchup.CatchUpRunner`, with its checkpoint
row named "reaction:<name>" (projections/tracking.py), and it parks on a failing event with the
error visible until resumed. Events are read through the projector role (every tenant); the
commands run through `run_command` on the runtime pool, scoped to the event's tenant by RLS.

The commands commit in their own transactions before the checkpoint moves, so delivery is at
least once: a command a reaction runs must record nothing the second time for the same source
event (a stream id derived from the source event id, an existence check).

Adding a reaction:

    @reaction("receipt", PaymentCaptured)
    async def queue_receipt(event: RecordedEvent, commands: Commands) -> None:
        await commands.run(lambda s: service.queue_receipt(s, event.event_id, ...))

and list it in backend/catalog.py (REACTIONS).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar
from uuid import uuid4

import asyncpg

from backend import observability
from backend.auth.principal import Principal
from backend.eventstore import EventStore, RecordedEvent
from backend.handling import Handler, RequestContext, run_command, utc_now
from backend.kernel.events import DomainEvent

T = TypeVar("T")
CHECKPOINT_PREFIX = "reaction:"


@dataclass(frozen=True)
class Commands:
    """Runs commands for one source event: in its tenant, as "reaction:<name>", correlated with
    the event and caused by it."""

    store: EventStore
    reaction: str
    event: RecordedEvent
    clock: Callable[[], dt.datetime] = utc_now

    def context(self) -> RequestContext:
        return RequestContext(
            principal=Principal(
                CHECKPOINT_PREFIX + self.reaction, self.event.tenant_id, frozenset()
            ),
            request_id=str(uuid4()),
            correlation_id=str(self.event.metadata.get("correlation_id") or self.event.event_id),
            now=self.clock(),
            causation_id=str(self.event.event_id),
            traceparent=self.event.metadata.get("traceparent"),
        )

    async def run(self, handler: Handler[T]) -> T:
        return await run_command(self.store, self.context(), self.event.tenant_id, handler)


class Reaction(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def event_types(self) -> frozenset[str]: ...

    async def handle(self, event: RecordedEvent, commands: Commands) -> None:
        """Run the commands this event calls for (idempotently: it may come again)."""


ReactionHandler = Callable[[RecordedEvent, Commands], Awaitable[None]]


@dataclass(frozen=True)
class FunctionReaction:
    name: str
    event_types: frozenset[str]
    handler: ReactionHandler

    async def handle(self, event: RecordedEvent, commands: Commands) -> None:
        await self.handler(event, commands)


def reaction(
    name: str, *event_types: type[DomainEvent]
) -> Callable[[ReactionHandler], FunctionReaction]:
    """Decorator: the function becomes a reaction to the given event types."""

    def wrap(handler: ReactionHandler) -> FunctionReaction:
        return FunctionReaction(name, frozenset(e.type_name() for e in event_types), handler)

    return wrap


@dataclass(frozen=True)
class ReactionSubscription:
    """A reaction as a catch-up subscriber (the `Projection` protocol CatchUpRunner runs).

    `apply` is called inside the runner's transaction on the checkpoint row (held locked, so two
    processes never handle one batch at once); the reaction's commands commit on their own."""

    reaction: Reaction
    store: EventStore
    clock: Callable[[], dt.datetime] = utc_now

    @property
    def name(self) -> str:
        return CHECKPOINT_PREFIX + self.reaction.name

    def wants(self, stream_type: str, event_type: str) -> bool:
        return event_type in self.reaction.event_types

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            if event.event_type in self.reaction.event_types:
                commands = Commands(self.store, self.reaction.name, event, self.clock)
                with observability.TRACER.start_as_current_span(
                    f"reaction {self.reaction.name}",
                    context=observability.context_of(event.metadata.get("traceparent")),
                    attributes=observability.event_attributes(event),
                ):
                    await self.reaction.handle(event, commands)
