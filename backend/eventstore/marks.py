"""The writer's mark: an HMAC the application puts on every event it appends, under a key the
database never holds (CARETRAIL_CHAIN_KEY).

The database's own hash chain (migration 0004) is computed by the database, so whoever controls
the database can recompute it, and an INSERT by anyone holding the runtime role's password is
hashed like any other. A mark can only be made where the key is: an event without a valid mark
was not written by the application (backend/audit/tenant_chain.py reports it).

The mark covers what the application chooses (ids, stream, type, schema version, data, metadata,
occurred_at), rendered canonically so that what is read back from jsonb marks the same as what
was sent. The database assigns version, position and recorded_at; the tenant chain's links
cover those (backend/audit/links.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any
from uuid import UUID

import orjson

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
_DEV_KEY = b"caretrail-dev-chain-key-not-prd-"


class ChainKey:
    """The chain's secret, with one derived key per use so a mark can never pass for a link."""

    def __init__(self, secret: bytes) -> None:
        self.marks = hmac.new(secret, b"caretrail event mark", hashlib.sha256).digest()
        self.links = hmac.new(secret, b"caretrail tenant chain", hashlib.sha256).digest()


_KEY = ChainKey(_DEV_KEY)


def configure(secret: bytes) -> None:
    """Called once at start by every process that appends or verifies (backend/bootstrap.py);
    until then the development key is used."""
    global _KEY
    _KEY = ChainKey(secret)


def chain_key() -> ChainKey:
    return _KEY


def micros(moment: dt.datetime) -> int:
    """Microseconds since the epoch: exact, as PostgreSQL stores a timestamptz (a naive time is
    UTC, as asyncpg sends it)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - _EPOCH) // _MICROSECOND


def _canonical_value(value: Any) -> Any:
    """jsonb keeps numbers as decimals: 2.0 reads back as 2.0 but 1e20 as an integer. Integral
    floats are rendered as integers on both sides so the two agree."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _canonical_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical_value(v) for v in value]
    return value


def canonical_body(
    event_id: UUID,
    tenant_id: UUID,
    stream_type: str,
    stream_id: UUID,
    event_type: str,
    schema_version: int,
    data: Any,
    metadata: Any,
    occurred_at: dt.datetime,
) -> bytes:
    """The application's part of an event as bytes. `data` and `metadata` as appended (what
    orjson renders of them is what the database stores) or as read back from it."""
    return orjson.dumps(
        [
            str(event_id),
            str(tenant_id),
            stream_type,
            str(stream_id),
            event_type,
            schema_version,
            _canonical_value(data),
            _canonical_value(metadata),
            micros(occurred_at),
        ],
        option=orjson.OPT_SORT_KEYS,
    )


def mark(body: bytes) -> bytes:
    return hmac.new(_KEY.marks, body, hashlib.sha256).digest()


def mark_holds(body: bytes, stored: bytes | None) -> bool:
    return stored is not None and hmac.compare_digest(mark(body), stored)
