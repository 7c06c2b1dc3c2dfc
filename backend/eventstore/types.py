"""Value types of the event store API."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

ANY = -1
"""Expected version: append whatever the stream's current version."""
NO_STREAM = 0
"""Expected version: the stream must not exist yet."""


@dataclass(frozen=True)
class NewEvent:
    event_id: UUID
    event_type: str
    data: dict[str, Any]
    occurred_at: dt.datetime
    metadata: dict[str, Any] = field(default_factory=dict)
    schema_version: int = 1


@dataclass(frozen=True)
class StreamAppend:
    """Events for one stream, appended only if the stream is at `expected_version`."""

    stream_type: str
    stream_id: UUID
    expected_version: int
    events: tuple[NewEvent, ...]


@dataclass(frozen=True)
class RecordedEvent:
    position: int
    event_id: UUID
    tenant_id: UUID
    stream_type: str
    stream_id: UUID
    version: int
    event_type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    tx_id: int
    unreadable: bool = False
    """Its sealed personal fields could not be opened although their key was not erased: the
    ciphertext or the key was altered (backend/privacy/sealing.py). They read as "[unreadable]"."""


@dataclass(frozen=True)
class StreamVersion:
    stream_type: str
    stream_id: UUID
    version: int


@dataclass(frozen=True)
class AppendResult:
    """Each stream's version after the append, and the global position of the last event."""

    streams: tuple[StreamVersion, ...]
    position: int

    def version_of(self, stream_id: UUID) -> int:
        return next(s.version for s in self.streams if s.stream_id == stream_id)


@dataclass(frozen=True, order=True)
class GlobalCheckpoint:
    """A place in the gap-safe global order, which is (transaction id, position); places
    compare in that order."""

    tx_id: int = 0
    position: int = 0


class WrongExpectedVersion(Exception):
    """`actual` is None when a concurrent writer won inside the caller's own transaction, which
    is then lost, so the version could not be read."""

    def __init__(
        self, stream_type: str, stream_id: UUID, expected: int, actual: int | None
    ) -> None:
        super().__init__(f"{stream_type}/{stream_id}: expected version {expected}, actual {actual}")
        self.stream_type = stream_type
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
