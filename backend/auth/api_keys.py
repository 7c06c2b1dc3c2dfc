"""Partner API keys: their form, their stored digests, and the look-up that authenticates one.

A key reads `ct_live_<key id, 32 hex>_<secret>`: the key id finds its row, the secret proves it.
Only SHA-256 digests of secrets are stored (a secret is 256 random bits: no slow hash needed),
in `api_keys`, written in the transaction of the tenant's command that creates, rotates or
revokes the key (backend/tenancy). `api_keys` is a tenant table under RLS; the look-up, made
before any tenant is known, may read the one row whose id the caller presented (migration 0028:
`api_key_presented`), so a key reveals nothing of any other.

A rotation keeps the previous secret working until `retiring_at`; a revoked or expired key, an
unknown id or a wrong secret is refused alike.

The look-up also returns the key's rate limits: its own (set when it was made) or its tenant's
default for keys, and its tenant's budget for all keys together (`api_rate_limits`, written
when the tenant's policy changes them; no row: the defaults below). A key verified a moment ago
in this process is not looked up again (backend/auth/verified_keys.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

import asyncpg

from backend.auth.principal import Principal, RateLimits
from backend.auth.verified_keys import VerifiedKeys

PREFIX = "ct_live_"
DEFAULT_KEY_PER_MINUTE = 600
"""Requests a minute one key may make unless it was made with its own limit or its tenant's
policy says otherwise (`api_rate_limit_per_minute`): ten a second, sustained."""
DEFAULT_TENANT_PER_MINUTE = 3000
"""Requests a minute all of a tenant's keys together may make (policy
`api_tenant_rate_limit_per_minute`): five keys at their default, so one tenant's partners
cannot take the API from the others."""
MAX_PER_MINUTE = 1_000_000
"""The largest limit a key or a tenant may be given."""
_FORM = re.compile(r"^ct_live_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")


class InvalidKey(Exception):
    pass


class KeyMade(Protocol):
    """What a new key's row is written from (the tenant's ApiKeyCreated)."""

    @property
    def key_id(self) -> UUID: ...
    @property
    def scopes(self) -> tuple[str, ...]: ...
    @property
    def api_version(self) -> str: ...
    @property
    def expires_at(self) -> dt.datetime | None: ...
    @property
    def rate_limit_per_minute(self) -> int | None: ...


@dataclass(frozen=True)
class NewSecret:
    key: str
    """The whole key, shown once."""
    digest: bytes


def new_secret(key_id: UUID) -> NewSecret:
    secret = secrets.token_urlsafe(32)
    return NewSecret(f"{PREFIX}{key_id.hex}_{secret}", digest(secret))


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def shown_prefix(key_id: UUID) -> str:
    """What lists show to tell keys apart: the key's first characters."""
    return f"{PREFIX}{key_id.hex[:8]}"


async def store(
    conn: asyncpg.Connection, tenant_id: UUID, created: KeyMade, secret_digest: bytes
) -> None:
    await conn.execute(
        "INSERT INTO api_keys (tenant_id, key_id, secret_digest, scopes, api_version, expires_at,"
        " rate_limit_per_minute) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        tenant_id,
        created.key_id,
        secret_digest,
        list(created.scopes),
        created.api_version,
        created.expires_at,
        created.rate_limit_per_minute,
    )


async def set_tenant_limits(
    conn: asyncpg.Connection, tenant_id: UUID, key_per_minute: int, tenant_per_minute: int
) -> None:
    """The tenant's default limit for its keys and its budget for all of them, as its policy
    now says (written in the transaction of the policy change)."""
    await conn.execute(
        "INSERT INTO api_rate_limits (tenant_id, key_per_minute, tenant_per_minute)"
        " VALUES ($1, $2, $3) ON CONFLICT (tenant_id) DO UPDATE"
        " SET key_per_minute = EXCLUDED.key_per_minute,"
        " tenant_per_minute = EXCLUDED.tenant_per_minute",
        tenant_id,
        key_per_minute,
        tenant_per_minute,
    )


async def rotate(
    conn: asyncpg.Connection, key_id: UUID, secret_digest: bytes, retiring_at: dt.datetime
) -> None:
    """The new secret replaces the current one, which keeps working until `retiring_at`."""
    await conn.execute(
        "UPDATE api_keys SET retiring_digest = secret_digest, retiring_at = $3,"
        " secret_digest = $2 WHERE key_id = $1",
        key_id,
        secret_digest,
        retiring_at,
    )


async def revoke(conn: asyncpg.Connection, key_id: UUID, at: dt.datetime) -> None:
    await conn.execute("UPDATE api_keys SET revoked_at = $2 WHERE key_id = $1", key_id, at)


async def last_used(conn: asyncpg.Connection, key_ids: list[UUID]) -> dict[UUID, dt.datetime]:
    rows = await conn.fetch(
        "SELECT key_id, last_used_at FROM api_keys WHERE key_id = ANY($1::uuid[])"
        " AND last_used_at IS NOT NULL",
        key_ids,
    )
    return {r["key_id"]: r["last_used_at"] for r in rows}


async def authenticate(pool: asyncpg.Pool, presented: str, verified: VerifiedKeys) -> Principal:
    """The principal a presented key acts as; InvalidKey when it is not a live key. A key
    `verified` holds is not looked up again."""
    form = _FORM.fullmatch(presented.strip())
    if form is None:
        raise InvalidKey("not an API key")
    key_id, given = UUID(form.group(1)), digest(form.group(2))
    known = verified.found(key_id, given)
    if known is not None:
        return known
    mark = verified.mark()
    row = await pool.fetchrow("SELECT * FROM api_key_presented($1)", key_id)
    if row is None:
        raise InvalidKey("unknown API key")
    current = hmac.compare_digest(given, row["secret_digest"])
    retiring = row["retiring_digest"] is not None and row["retiring_live"]
    if not (current or (retiring and hmac.compare_digest(given, row["retiring_digest"]))):
        raise InvalidKey("unknown API key")
    if row["revoked"]:
        raise InvalidKey("the API key has been revoked")
    if row["expired"]:
        raise InvalidKey("the API key has expired")
    if row["stale_use"]:
        await pool.execute("SELECT api_key_used($1)", key_id)
    principal = Principal(
        actor=str(key_id),
        tenant_id=row["tenant_id"],
        roles=frozenset(),
        key_id=key_id,
        scopes=frozenset(row["scopes"]),
        api_version=row["api_version"],
        rate_limits=RateLimits(
            row["key_per_minute"] or row["tenant_key_per_minute"] or DEFAULT_KEY_PER_MINUTE,
            row["tenant_per_minute"] or DEFAULT_TENANT_PER_MINUTE,
        ),
    )
    verified.keep(
        mark, given, principal, row["expires_at"], None if current else row["retiring_at"]
    )
    return principal
