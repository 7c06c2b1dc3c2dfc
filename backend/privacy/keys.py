"""Subjects' data keys in PostgreSQL (table subject_keys, RLS like every tenant table), wrapped
by the process's master key. `configure` is called once at start by every process that reads
or writes events (API, projection runners, CLI)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backend.eventstore.types import RecordedEvent
from backend.kernel.errors import Conflict
from backend.privacy.crypto import MasterKey, cipher, new_data_key
from backend.privacy.sealing import is_sealed, opened_data, subject_of

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


async def unseal(conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> list[RecordedEvent]:
    """The events with their personal fields readable, or redacted where the key is gone.
    One query for all the subjects involved; events without sealed fields pass unchanged."""
    sealed = [e for e in events if is_sealed(e.data)]
    if not sealed:
        return list(events)
    opened = await open_all(conn, [(e.tenant_id, e.event_id, e.event_type, e.data) for e in sealed])
    data = {e.event_id: d for e, d in zip(sealed, opened, strict=True)}
    return [_with_data(e, data[e.event_id]) if e.event_id in data else e for e in events]


async def open_all(
    conn: asyncpg.Connection, sealed: Sequence[tuple[UUID, UUID, str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The opened (or, once erased, redacted) data of sealed events given as (tenant id, event
    id, event type, stored data), in their order; one key query for all their subjects."""
    subjects = [(tenant, subject_of(kind, data)) for tenant, _, kind, data in sealed]
    ciphers = await _ciphers(conn, set(subjects))
    return [
        opened_data(kind, data, ciphers.get(subject), event_id)
        for (_, event_id, kind, data), subject in zip(sealed, subjects, strict=True)
    ]


async def _ciphers(
    conn: asyncpg.Connection, subjects: set[tuple[UUID, str]]
) -> dict[tuple[UUID, str], AESGCM]:
    """Each subject's cipher; erased (or unknown) subjects have none."""
    rows = await conn.fetch(
        "SELECT k.tenant_id, k.subject_id, k.wrapped_key FROM subject_keys k"
        " JOIN unnest($1::uuid[], $2::text[]) AS s(tenant_id, subject_id)"
        " ON k.tenant_id = s.tenant_id AND k.subject_id = s.subject_id::uuid"
        " WHERE k.wrapped_key IS NOT NULL",
        [t for t, _ in subjects],
        [s for _, s in subjects],
    )
    unwrap = master().unwrap
    return {
        (r["tenant_id"], str(r["subject_id"])): cipher(
            unwrap(r["wrapped_key"], r["tenant_id"], r["subject_id"])
        )
        for r in rows
    }


def _with_data(e: RecordedEvent, data: dict[str, Any]) -> RecordedEvent:
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
        data,
        e.metadata,
        e.occurred_at,
        e.recorded_at,
        e.tx_id,
    )
