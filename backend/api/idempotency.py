"""Idempotency-Key: a repeated request with the same body replays the first success.

Everything happens in the command's own transaction (docs/architecture.md, "Idempotency-Key"):
`claim` takes a transaction-scoped advisory lock on the caller's key, so one request per key
runs at a time and a second one is told the key is in use; then it looks the key up, after the
lock, so a first request that committed meanwhile is seen and replayed. `remember` stores the
response with the command's events: both commit or neither does, and a crash releases the lock.
Refusals store nothing. Erasure turns the stored responses about the patient into tombstones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from backend.api.problems import ApiError, problem_body
from backend.kernel.errors import Invalid

PLATFORM_SCOPE = UUID(int=0)
"""Keys of callers without a tenant (platform admins) live in this scope."""
RETRY_AFTER_SECONDS = 1
EXPIRED_PER_COMMAND = 16
"""How many of its tenant's expired keys a keyed command deletes: more than it adds, so the
expired rows of a tenant that keeps sending keyed commands cannot pile up."""
TOMBSTONE = problem_body(
    410,
    "PATIENT_ERASED",
    "this Idempotency-Key was used for a request about a patient who has since been erased;"
    " the stored response is gone and the request is not run again",
)

_SET_SCOPE = "SELECT set_config('app.tenant_id', $1, true)"
_LOOKUP = """
SELECT request_hash, status_code, response, headers FROM idempotency_keys
WHERE tenant_id = $1 AND actor = $2 AND key = $3 AND (expires_at IS NULL OR expires_at > now())
"""
EXPIRED_KEYS = f"""
SELECT ctid FROM idempotency_keys
WHERE tenant_id = $1 AND expires_at <= now() AND (actor, key) <> ($2, $3)
ORDER BY expires_at LIMIT {EXPIRED_PER_COMMAND} FOR UPDATE SKIP LOCKED
"""
"""The tenant's oldest expired keys but the caller's ($2, $3), by the index on expiry; rows
another transaction is deleting or reusing are skipped, not waited for."""
# One statement: note whether the patient is erased (FOR SHARE waits for an erasure in flight,
# which then sees this row: see `tombstone_responses_about`), delete a few expired keys of the
# tenant (never this one: it may be one of them, and is overwritten instead), store the response
# or, about an erased patient, a tombstone.
_REMEMBER = f"""
WITH subject AS (
    SELECT wrapped_key IS NULL AS erased FROM subject_keys
    WHERE tenant_id = $1 AND subject_id = $8 FOR SHARE
), expired AS (
    DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY({EXPIRED_KEYS}))
)
INSERT INTO idempotency_keys AS k
    (tenant_id, actor, key, request_hash, status_code, response, headers, patient_id, expires_at)
SELECT $1::uuid, $2::text, $3::text, $4::text, $5::int, $6::jsonb, $7::jsonb, $8::uuid,
    now() + $9::interval
WHERE NOT EXISTS (SELECT FROM subject WHERE erased)
UNION ALL
SELECT $1, $2, $3, NULL, 410, $10::jsonb, '{{}}', $8, NULL
WHERE EXISTS (SELECT FROM subject WHERE erased)
ON CONFLICT (tenant_id, actor, key) DO UPDATE SET
    request_hash = EXCLUDED.request_hash, status_code = EXCLUDED.status_code,
    response = EXCLUDED.response, headers = EXCLUDED.headers,
    patient_id = EXCLUDED.patient_id, expires_at = EXCLUDED.expires_at
WHERE k.expires_at <= now()
"""
_TOMBSTONE = """
WITH expired AS (
    DELETE FROM idempotency_keys
    WHERE tenant_id = $1 AND patient_id = $2 AND expires_at <= now()
)
UPDATE idempotency_keys
SET request_hash = NULL, status_code = 410, response = $3, headers = '{}', expires_at = NULL
WHERE tenant_id = $1 AND patient_id = $2 AND (expires_at IS NULL OR expires_at > now())
"""


class IdempotencyKeyReused(Invalid):
    """A 422 like every other, naming the header (with its own stable code)."""

    code = "IDEMPOTENCY_KEY_REUSED"

    def __init__(self) -> None:
        super().__init__("Idempotency-Key", "was used with another request (method, path or body)")


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class IdempotentRequest:
    scope: UUID
    actor: str
    key: str
    request_hash: str

    @classmethod
    def of(
        cls, key: str, scope: UUID | None, actor: str, method: str, path: str, body: bytes
    ) -> IdempotentRequest:
        digest = hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()
        return cls(scope or PLATFORM_SCOPE, actor, key, digest)

    @property
    def lock_id(self) -> int:
        """The advisory lock of this caller's key: 64 bits of a hash of scope, actor and key."""
        name = "\0".join(("idempotency-key", str(self.scope), self.actor, self.key))
        return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)

    async def claim(self, conn: asyncpg.Connection, tenant_id: UUID) -> StoredResponse | None:
        """Hold the key until the transaction ends and return what is stored for it, if
        anything. 409 IDEMPOTENCY_KEY_IN_USE while another request with it is running."""
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", self.lock_id):
            raise ApiError(
                409,
                "IDEMPOTENCY_KEY_IN_USE",
                "a request with this Idempotency-Key is still running; retry after it",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        async with self._in_scope(conn, tenant_id):
            row = await conn.fetchrow(_LOOKUP, self.scope, self.actor, self.key)
        if row is None:
            return None
        if row["request_hash"] not in (None, self.request_hash):
            raise IdempotencyKeyReused
        return StoredResponse(row["status_code"], row["response"], row["headers"])

    async def remember(
        self,
        conn: asyncpg.Connection,
        tenant_id: UUID,
        response: StoredResponse,
        patient_id: UUID | None,
        lifetime: dt.timedelta,
    ) -> None:
        """Store the response until `lifetime` has passed, as a tombstone if it is about a
        patient already erased (an erasure, or a command that committed after one)."""
        async with self._in_scope(conn, tenant_id):
            await conn.execute(
                _REMEMBER,
                self.scope,
                self.actor,
                self.key,
                self.request_hash,
                response.status_code,
                orjson.loads(orjson.dumps(response.body)),
                response.headers,
                patient_id,
                lifetime,
                TOMBSTONE,
            )

    @asynccontextmanager
    async def _in_scope(self, conn: asyncpg.Connection, tenant_id: UUID) -> AsyncIterator[None]:
        """Keys live in the caller's scope, which differs from the command's tenant only for a
        platform admin (creating a tenant)."""
        if self.scope == tenant_id:
            yield
            return
        await conn.execute(_SET_SCOPE, str(self.scope))
        yield
        await conn.execute(_SET_SCOPE, str(tenant_id))


async def tombstone_responses_about(
    conn: asyncpg.Connection, tenant_id: UUID, patient_id: UUID
) -> None:
    """Replace every stored response about the patient with a tombstone: no data of theirs
    remains, and a repeat answers 410 PATIENT_ERASED instead of running again (registering
    them anew). Tombstones do not expire; expired responses are simply deleted.

    Call it after destroying the patient's key: a command about them that is storing its
    response right now holds that key row (FOR SHARE), so the destruction waits for it to
    commit and this statement then finds its row; one storing later sees the key destroyed and
    stores a tombstone itself."""
    await conn.execute(_TOMBSTONE, tenant_id, patient_id, TOMBSTONE)
