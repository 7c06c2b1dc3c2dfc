"""Idempotency-Key: a repeated POST with the same body replays the first response.

The response is remembered in the same transaction as the command's events, so either both
exist or neither does. Two concurrent requests with one key: the second's insert waits on the
first's and fails once it commits; its own events roll back and it replays the first response.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from backend.eventstore import EventStore
from backend.kernel.errors import DomainError

PLATFORM_SCOPE = UUID(int=0)
"""Keys of callers without a tenant (platform admins) live in this scope."""


class IdempotencyKeyReused(DomainError):
    code = "IDEMPOTENCY_KEY_REUSED"
    status = 422


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class IdempotentRequest:
    key: str
    scope: UUID
    request_hash: str

    @classmethod
    def of(
        cls, key: str, scope: UUID | None, method: str, path: str, body: bytes
    ) -> IdempotentRequest:
        digest = hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()
        return cls(key, scope or PLATFORM_SCOPE, digest)

    async def lookup(self, store: EventStore) -> StoredResponse | None:
        async with store.transaction(self.scope) as conn:
            row = await conn.fetchrow(
                "SELECT request_hash, status_code, response, headers FROM idempotency_keys"
                " WHERE tenant_id = $1 AND key = $2",
                self.scope,
                self.key,
            )
        if row is None:
            return None
        if row["request_hash"] != self.request_hash:
            msg = "this Idempotency-Key was used with another request"
            raise IdempotencyKeyReused(msg)
        return StoredResponse(row["status_code"], row["response"], row["headers"])

    async def remember(
        self, conn: asyncpg.Connection, status_code: int, body: Any, headers: dict[str, str]
    ) -> None:
        await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(self.scope))
        await conn.execute(
            "INSERT INTO idempotency_keys (tenant_id, key, request_hash, status_code, response,"
            " headers) VALUES ($1, $2, $3, $4, $5, $6)",
            self.scope,
            self.key,
            self.request_hash,
            status_code,
            orjson.loads(orjson.dumps(body)),
            headers,
        )

    async def remember_refusal(self, store: EventStore, status_code: int, body: Any) -> None:
        """Record a refused command in a transaction of its own (the command's rolled back).
        If a concurrent request with this key already recorded something, that one stands."""
        async with store.transaction(self.scope) as conn:
            await conn.execute(
                "INSERT INTO idempotency_keys (tenant_id, key, request_hash, status_code,"
                " response) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                self.scope,
                self.key,
                self.request_hash,
                status_code,
                body,
            )


async def forget_responses_about(conn: asyncpg.Connection, resource_id: UUID) -> None:
    """Drop the remembered responses of commands on a resource (they echo its data: an erasure
    must not leave them behind). A repeat of such a request then runs again."""
    await conn.execute("DELETE FROM idempotency_keys WHERE response->>'id' = $1", str(resource_id))
