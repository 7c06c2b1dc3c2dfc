"""A tenant's API keys for partner systems, as the tenant's stream records them (pure): made
with scopes and a pinned API version, rotated with an overlap, revoked at once. The secrets and
their digests never enter events (backend/auth/api_keys.py keeps the digests)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from backend.auth.api_keys import MAX_PER_MINUTE, shown_prefix
from backend.auth.scopes import SCOPES
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent
from backend.tenancy.events import ApiKeyCreated, ApiKeyRevoked, ApiKeyRotated

MAX_KEYS = 100
"""Keys a tenant may hold, revoked ones included (they stay listed)."""
NAME_MAX = 200
Keys = tuple[dict[str, Any], ...]


def with_key_event(keys: Keys, event: DomainEvent) -> Keys:
    match event:
        case ApiKeyCreated():
            key = {
                "id": str(event.key_id),
                "name": event.name,
                "prefix": shown_prefix(event.key_id),
                "scopes": list(event.scopes),
                "api_version": event.api_version,
                "created_at": event.created_at.isoformat(),
                "expires_at": None if event.expires_at is None else event.expires_at.isoformat(),
                "rate_limit_per_minute": event.rate_limit_per_minute,
                "rotated_at": None,
                "retiring_at": None,
                "revoked_at": None,
            }
            return (*keys, key)
        case ApiKeyRotated():
            return _changed(
                keys,
                event.key_id,
                rotated_at=event.rotated_at.isoformat(),
                retiring_at=event.retiring_at.isoformat(),
            )
        case ApiKeyRevoked():
            return _changed(keys, event.key_id, revoked_at=event.revoked_at.isoformat())
    return keys


def state_of(key: dict[str, Any], now: dt.datetime) -> str:
    if key["revoked_at"] is not None:
        return "revoked"
    if key["expires_at"] is not None and dt.datetime.fromisoformat(key["expires_at"]) <= now:
        return "expired"
    return "active"


def create(
    keys: Keys,
    key_id: UUID,
    name: str,
    scopes: list[str],
    api_version: str,
    versions: tuple[str, ...],
    expires_at: dt.datetime | None,
    rate_limit_per_minute: int | None,
    now: dt.datetime,
) -> list[DomainEvent]:
    """`versions`: the dated API versions served, oldest first. A key without its own
    `rate_limit_per_minute` follows its tenant's default for keys, whatever it becomes."""
    if len(keys) >= MAX_KEYS:
        raise Conflict("TOO_MANY_API_KEYS", f"a tenant holds at most {MAX_KEYS} API keys")
    if not name.strip():
        raise Invalid("name", "must not be blank")
    unknown = sorted(set(scopes) - SCOPES)
    if unknown:
        raise Invalid("scopes", f"unknown scope {unknown[0]!r}; one of {', '.join(sorted(SCOPES))}")
    if not scopes:
        raise Invalid("scopes", "at least one scope")
    if api_version not in versions:
        raise Invalid("api_version", f"one of {', '.join(versions)}")
    if expires_at is not None and expires_at <= now:
        raise Invalid("expires_at", "must be in the future")
    if rate_limit_per_minute is not None and not 1 <= rate_limit_per_minute <= MAX_PER_MINUTE:
        raise Invalid("rate_limit_per_minute", f"a whole number from 1 to {MAX_PER_MINUTE}")
    chosen = tuple(sorted(set(scopes)))
    return [
        ApiKeyCreated(
            key_id, name.strip(), chosen, api_version, expires_at, now, rate_limit_per_minute
        )
    ]


def rotate(keys: Keys, key_id: UUID, overlap: dt.timedelta, now: dt.datetime) -> list[DomainEvent]:
    _live(keys, key_id, now, "rotate")
    return [ApiKeyRotated(key_id, now, now + overlap)]


def revoke(keys: Keys, key_id: UUID, now: dt.datetime) -> list[DomainEvent]:
    """Revoking a revoked key records nothing."""
    key = find(keys, key_id)
    return [] if key["revoked_at"] is not None else [ApiKeyRevoked(key_id, now)]


def _live(keys: Keys, key_id: UUID, now: dt.datetime, action: str) -> None:
    state = state_of(find(keys, key_id), now)
    if state != "active":
        raise Conflict("API_KEY_NOT_ACTIVE", f"cannot {action} a key that is {state}")


def find(keys: Keys, key_id: UUID) -> dict[str, Any]:
    """The key `key_id`; NOT_FOUND when the tenant has none."""
    key = next((k for k in keys if k["id"] == str(key_id)), None)
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    return key


def _changed(keys: Keys, key_id: UUID, **changes: Any) -> Keys:
    return tuple({**k, **changes} if k["id"] == str(key_id) else k for k in keys)


def listed(
    key: dict[str, Any], last_used_at: dt.datetime | None, now: dt.datetime
) -> dict[str, Any]:
    """A key as `GET /v1/api-keys` shows it: never a secret."""
    return {**key, "state": state_of(key, now), "last_used_at": last_used_at}
