"""How a stream type folds its events into state, in one declaration per aggregate.

Each bounded context declares an `Aggregate` for each stream type it owns; the registry lets
generic machinery (command handling, temporal reads) fold any stream without knowing its type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from backend.kernel.events import DomainEvent

S = TypeVar("S")


@dataclass(frozen=True)
class Aggregate(Generic[S]):
    stream_type: str
    initial: Callable[[], S]
    evolve: Callable[[S, DomainEvent], S]
    view: Callable[[S], dict[str, Any]]
    snapshot_version: int = 1
    """Bump when the state's shape or `evolve` changes: older snapshots are then ignored."""

    def fold(self, events: Iterable[DomainEvent], start: S | None = None) -> S:
        """`events` folded into `start` (the initial state if None)."""
        state = self.initial() if start is None else start
        for event in events:
            state = self.evolve(state, event)
        return state


_AGGREGATES: dict[str, Aggregate[Any]] = {}


def register_aggregate(aggregate: Aggregate[S]) -> Aggregate[S]:
    _AGGREGATES[aggregate.stream_type] = aggregate
    return aggregate


def aggregate_for(stream_type: str) -> Aggregate[Any] | None:
    return _AGGREGATES.get(stream_type)
