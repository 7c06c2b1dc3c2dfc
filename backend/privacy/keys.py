"""Subjects' data keys in PostgreSQL (table subject_keys, RLS like every tenant table), wrapped
by the process's master key. `configure` is called once at start by every process that reads
or writes events (API, projection runners, CLI)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from uuid import UUID

import asyncpg
from cryptography.exceptions import InvalidTag

from backend.eventstore.types import RecordedEvent
from backend.kernel.errors import Conflict
from backend.privacy.crypto import MasterKey, cipher, new_data_key
from backend.privacy.sealing import (
    Opened,
    Redaction,
    SubjectKey,
    is_sealed,
    opened_data,
    opened_parts,
    subject_of,
)

_MASTER: MasterKey | None = None


def configure(master_key: bytes) -> None:
    global _MASTER
    _MASTER = MasterKey(master_key)


def master() -> MasterKey:
    if _MASTER is None:
        msg = "privacy.keys.configure() was not called: no master key to read personal data"
        raise RuntimeError(msg)
    return _MASTER


_KEY_FOR_WRITING = """
WITH found AS (SELECT wrapped_key FROM subject_keys WHERE tenant_id = $1 AND subject_id = $2),
     made AS (INSERT INTO subject_keys (tenant_id, subject_id, wrapped_key)
              SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM found)
              ON CONFLICT (tenant_id, subject_id) DO NOTHING
              RETURNING wrapped_key)
SELECT wrapped_key FROM found UNION ALL SELECT wrapped_key FROM made
"""


async def data_key_for_writing(conn: asyncpg.Connection, tenant_id: UUID, subject: UUID) -> bytes:
    """The subject's key, created on first use (an existing key is only read, never rewritten).
    Refused once the subject has been erased."""
    row = await conn.fetchrow(
        _KEY_FOR_WRITING, tenant_id, subject, master().wrap(new_data_key(), tenant_id, subject)
    )
    if row is None:  # another transaction created it between our look and our insert
        row = await conn.fetchrow(
            "SELECT wrapped_key FROM subject_keys WHERE tenant_id = $1 AND subject_id = $2",
            tenant_id,
            subject,
        )
    assert row is not None
    if row["wrapped_key"] is None:
        msg = f"subject {subject} has been erased: no personal data can be recorded"
        raise Conflict("SUBJECT_ERASED", msg)
    return master().unwrap(row["wrapped_key"], tenant_id, subject)


async def destroy(conn: asyncpg.Connection, tenant_id: UUID, subject: UUID) -> None:
    """Erase the subject's key: their sealed fields can never be read again."""
    await conn.execute(
        "INSERT INTO subject_keys (tenant_id, subject_id, wrapped_key, erased_at)"
        " VALUES ($1, $2, NULL, now())"
        " ON CONFLICT (tenant_id, subject_id)"
        " DO UPDATE SET wrapped_key = NULL, erased_at = now()",
        tenant_id,
        subject,
    )


_OPENED: ContextVar[dict[UUID, RecordedEvent] | None] = ContextVar("opened", default=None)


@contextmanager
def opening_once() -> Iterator[None]:
    """Within this block (of the current task), an event `unseal` opened is not opened again:
    the projections of one catch-up batch unseal the same events in the same transaction, and
    each of them read the subjects' keys and decrypted anew (one more round trip per batch and
    unsealing projection). Every reader of the block sees an event as the first opened it."""
    token = _OPENED.set({})
    try:
        yield
    finally:
        _OPENED.reset(token)


async def unseal(conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> list[RecordedEvent]:
    """The events with their personal fields readable, or redacted where the key is gone (erased)
    or they do not open (altered: flagged `unreadable`). One query for all the subjects
    involved (none for events already opened within `opening_once`); events without sealed
    fields pass unchanged."""
    sealed = [e for e in events if is_sealed(e.data)]
    if not sealed:
        return list(events)
    shared = _OPENED.get()
    known = {} if shared is None else shared
    closed = [e for e in sealed if e.event_id not in known]
    if closed:
        opened = await open_all(
            conn, [(e.tenant_id, e.event_id, e.event_type, e.data) for e in closed]
        )
        known.update((e.event_id, _with_data(e, o)) for e, o in zip(closed, opened, strict=True))
    return [known.get(e.event_id, e) for e in events]


Sealed = tuple[UUID, UUID, str, dict[str, Any]]
"""A sealed event as readers hold it: (tenant id, event id, event type, stored data)."""
Subject = tuple[UUID, UUID | None]
"""Whose key seals an event: (tenant id, subject id); no subject id when the data names none."""
WrappedKeys = dict[tuple[UUID, UUID], bytes | None]
"""Subjects' wrapped keys as stored, by (tenant id, subject id); None once erased."""


async def open_all(conn: asyncpg.Connection, sealed: Sequence[Sealed]) -> list[Opened]:
    """The opened (or redacted) data of sealed events, in their order; one key query for all
    their subjects."""
    subjects = subjects_of(sealed)
    return open_with(await wrapped_keys(conn, subjects), sealed, subjects)


def subjects_of(sealed: Sequence[Sealed | Parted]) -> list[Subject]:
    """Each sealed event's subject, found once for both `wrapped_keys` and `open_with` (a
    rebuild finds those of thousands of events per chunk)."""
    return [(event[0], subject_of(event[2], event[3])) for event in sealed]


async def wrapped_keys(
    conn: asyncpg.Connection | asyncpg.Pool, subjects: Sequence[Subject]
) -> WrappedKeys:
    """The one query `open_all` makes, apart, so that a reader can make it early (a rebuild
    asks for the next chunk's keys while it folds this one). The keys found come back as two
    arrays (each subject's place in the query's list, its key) rather than a row each: a
    rebuild asks for tens of thousands of subjects a chunk, and decoding a row and its two ids
    per subject, with the Python loops around them, cost it more than 3 us per event."""
    asked = [
        (tenant, subject) for tenant, subject in dict.fromkeys(subjects) if subject is not None
    ]
    if not asked:
        return {}
    row = await conn.fetchrow(
        "SELECT array_agg(s.i - 1), array_agg(k.wrapped_key) FROM subject_keys k"
        " JOIN unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS s(tenant_id, subject_id, i)"
        " ON k.tenant_id = s.tenant_id AND k.subject_id = s.subject_id",
        [tenant for tenant, _ in asked],
        [subject for _, subject in asked],
    )
    if row is None or row[0] is None:  # none of them has a key row
        return {}
    places: list[int] = row[0]
    found: list[bytes | None] = row[1]
    return dict(zip(map(asked.__getitem__, places), found, strict=True))


def open_with(
    wrapped: WrappedKeys, sealed: Sequence[Sealed], subjects: Sequence[Subject]
) -> list[Opened]:
    """`open_all` with the keys in hand (`subjects`: `subjects_of(sealed)`): each subject's key
    unwrapped once. A subject with no key row at all reads as unreadable (keys are never
    deleted, only nulled by an erasure)."""
    ciphers = _ciphers(wrapped)
    return [
        opened_data(kind, data, ciphers.get(subject, Redaction.UNREADABLE), event_id)
        for (_, event_id, kind, data), subject in zip(sealed, subjects, strict=True)
    ]


Parted = tuple[UUID, UUID, str, dict[str, Any], str | None, str | None]
"""A sealed event taken apart as a rebuild reads it: (tenant id, event id, event type, the data
without its sealed member, that member's nonce and ct as stored or None)."""


def open_parted(
    wrapped: WrappedKeys, parted: Sequence[Parted], subjects: Sequence[Subject]
) -> list[Opened]:
    """`open_with` for events taken apart (`sealing.opened_parts`); their data dicts become the
    opened data."""
    ciphers = _ciphers(wrapped)
    return [
        opened_parts(kind, rest, nonce, ct, ciphers.get(subject, Redaction.UNREADABLE), event_id)
        for (_, event_id, kind, rest, nonce, ct), subject in zip(parted, subjects, strict=True)
    ]


def _ciphers(wrapped: WrappedKeys) -> dict[Subject, SubjectKey]:
    """Each subject's cipher, or why there is none."""
    return {
        (tenant, subject): _subject_key(tenant, subject, key)
        for (tenant, subject), key in wrapped.items()
    }


def _subject_key(tenant: UUID, subject: UUID, wrapped: bytes | None) -> SubjectKey:
    """The subject's cipher, or why there is none: erased (the key was destroyed), unreadable
    (the wrapped key does not unwrap: altered)."""
    if wrapped is None:
        return Redaction.ERASED
    try:
        return cipher(master().unwrap(wrapped, tenant, subject))
    except (InvalidTag, ValueError):
        return Redaction.UNREADABLE


def _with_data(e: RecordedEvent, opened: Opened) -> RecordedEvent:
    """The same event with other data (positional: much cheaper than dataclasses.replace)."""
    return RecordedEvent(
        e.position,
        e.event_id,
        e.tenant_id,
        e.stream_type,
        e.stream_id,
        e.version,
        e.event_type,
        e.schema_version,
        opened.data,
        e.metadata,
        e.occurred_at,
        e.recorded_at,
        e.tx_id,
        opened.unreadable,
    )


KEY_SAMPLE = 5
"""How many stored keys the start-up check tries: one altered row alone does not fail it."""


async def master_key_problem(pool: asyncpg.Pool) -> str | None:
    """Why the configured master key cannot open this database's personal data, or None when
    it opens a stored key (or none is stored yet). Checked at start: with the wrong key every
    read and command touching personal data would fail, and projections would park. Needs a
    role that reads every tenant's keys (caretrail_projector)."""
    rows = await pool.fetch(
        "SELECT tenant_id, subject_id, wrapped_key FROM subject_keys"
        " WHERE wrapped_key IS NOT NULL ORDER BY tenant_id, subject_id LIMIT $1",
        KEY_SAMPLE,
    )
    for row in rows:
        try:
            master().unwrap(row["wrapped_key"], row["tenant_id"], row["subject_id"])
            return None
        except (InvalidTag, ValueError):
            continue
    if not rows:
        return None
    return (
        f"CARETRAIL_MASTER_KEY does not open this database's personal data (none of the"
        f" {len(rows)} stored data keys tried unwraps): it is not the key the data was written"
        " with"
    )
