"""The PostgreSQL event store: append with expected version, stream reads, gap-safe global reads."""

from backend.eventstore.store import EventStore
from backend.eventstore.types import (
    ANY,
    NO_STREAM,
    AppendResult,
    NewEvent,
    RecordedEvent,
    StreamAppend,
    WrongExpectedVersion,
)

__all__ = [
    "ANY",
    "NO_STREAM",
    "AppendResult",
    "EventStore",
    "NewEvent",
    "RecordedEvent",
    "StreamAppend",
    "WrongExpectedVersion",
]
