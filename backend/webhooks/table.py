"""`webhook_subscriptions` (migration 0033): what the dispatcher needs of each subscription.

Written by the subscription's commands in their transaction (tenant role, RLS) and by the
dispatcher as it delivers (projector role, every tenant: only the progress columns). The
signing secret must be read back to sign, so it cannot be a digest like an API key's: it is
encrypted with the master key (AES-GCM bound to its tenant and subscription, as subjects' data
keys are), so neither the table nor a backup of it lets anyone sign a delivery.

A subscription's place, (after_tx, after_position), is its own checkpoint in the store's
gap-safe global order: every event of its types up to there has been delivered (or was before
the subscription). A replay moves it back; the dispatcher moves it on only after a receiver
answered 2xx, or past events it does not want.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

import asyncpg

from backend.eventstore.types import GlobalCheckpoint
from backend.privacy import keys


def seal_secret(tenant_id: UUID, subscription_id: UUID, key: bytes) -> bytes:
    return keys.master().wrap(key, tenant_id, subscription_id)


def open_secret(tenant_id: UUID, subscription_id: UUID, sealed: bytes) -> bytes:
    return keys.master().unwrap(sealed, tenant_id, subscription_id)


async def store(
    conn: asyncpg.Connection,
    tenant_id: UUID,
    subscription_id: UUID,
    key_id: UUID,
    url: str,
    types: tuple[str, ...],
    secret_key: bytes,
    created_at: dt.datetime,
    position: int,
) -> None:
    """The new subscription starts after its own creation event (`position`, this
    transaction's): it receives what is recorded after it."""
    await conn.execute(
        "INSERT INTO webhook_subscriptions (subscription_id, tenant_id, key_id, url, types,"
        " sealed_secret, created_at, after_tx, after_position)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, pg_current_xact_id()::text::bigint, $8)",
        subscription_id,
        tenant_id,
        key_id,
        url,
        list(types),
        seal_secret(tenant_id, subscription_id, secret_key),
        created_at,
        position,
    )


async def count_of_key(conn: asyncpg.Connection, key_id: UUID) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM webhook_subscriptions WHERE key_id = $1 AND state <> 'deleted'",
        key_id,
    )
    return count


async def set_state(
    conn: asyncpg.Connection, subscription_id: UUID, state: str, reason: str | None
) -> None:
    """Also ends any lease: a dispatcher delivering meanwhile stops at its next step."""
    await conn.execute(
        "UPDATE webhook_subscriptions SET state = $2, disabled_reason = $3, lease_token = NULL,"
        " leased_until = NULL WHERE subscription_id = $1",
        subscription_id,
        state,
        reason,
    )


async def replay_from(
    conn: asyncpg.Connection, subscription_id: UUID, at: GlobalCheckpoint
) -> None:
    """Deliveries start again after `at`, at once, with a clean failure count."""
    await conn.execute(
        "UPDATE webhook_subscriptions SET state = 'active', disabled_reason = NULL,"
        " after_tx = $2, after_position = $3, failures = 0, last_error = NULL,"
        " next_attempt_at = NULL, lease_token = NULL, leased_until = NULL"
        " WHERE subscription_id = $1",
        subscription_id,
        at.tx_id,
        at.position,
    )


async def place_before(conn: asyncpg.Connection, position: int) -> GlobalCheckpoint | None:
    """The place just before the tenant's event at `position` (None: the tenant has none
    there); 0 is the place before the first event."""
    if position == 0:
        return GlobalCheckpoint()
    tx: int | None = await conn.fetchval(
        "SELECT tx_id::text::bigint FROM events WHERE position = $1", position
    )
    return None if tx is None else GlobalCheckpoint(tx, position - 1)


LISTED = (
    "subscription_id, key_id, url, types, state, created_at, disabled_reason, failures,"
    " last_error, next_attempt_at, delivered_position, delivered_at"
)


async def listed(conn: asyncpg.Connection, key_id: UUID | None) -> list[dict[str, Any]]:
    """The tenant's subscriptions (those of `key_id` only, when given), deleted ones left out."""
    rows = await conn.fetch(
        f"SELECT {LISTED} FROM webhook_subscriptions WHERE state <> 'deleted'"
        " AND ($1::uuid IS NULL OR key_id = $1) ORDER BY created_at, subscription_id",
        key_id,
    )
    return [shown(r) for r in rows]


async def delivery_of(conn: asyncpg.Connection, subscription_id: UUID) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"SELECT {LISTED} FROM webhook_subscriptions WHERE subscription_id = $1",
        subscription_id,
    )
    assert row is not None  # written with the subscription's creation
    return shown(row)


def shown(row: asyncpg.Record) -> dict[str, Any]:
    """A subscription as the API shows it: never its secret."""
    return {
        "id": str(row["subscription_id"]),
        "key_id": str(row["key_id"]),
        "url": row["url"],
        "types": list(row["types"]),
        "state": row["state"],
        "created_at": row["created_at"],
        "disabled_reason": row["disabled_reason"],
        "failures": row["failures"],
        "last_error": row["last_error"],
        "next_attempt_at": row["next_attempt_at"],
        "delivered_position": row["delivered_position"],
        "delivered_at": row["delivered_at"],
    }
