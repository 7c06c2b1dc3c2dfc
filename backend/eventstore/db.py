"""Connection pools. Every connection decodes json/jsonb with orjson."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from backend.kernel.jsonable import json_default

TRANSIENT = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.InternalClientError,
)
"""Failures of the connection rather than of a statement (a dropped or terminated connection,
one whose protocol state a cancelled query left broken): a background runner logs them and
tries again on a fresh connection instead of ending its task."""


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=json_default).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's default RESET ALL round trip.

    Safe because nothing here sets session state: the tenant is always set transaction-local
    (`set_config(..., true)`), and asyncpg still rolls back a transaction left open.
    """


async def create_pool(
    dsn: str,
    *,
    min_size: int = 2,
    max_size: int = 20,
    server_settings: dict[str, str] | None = None,
) -> asyncpg.Pool:
    """`server_settings`: the sessions' settings (a rebuild's planner settings)."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session,
        server_settings=server_settings,
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


def _jsonb_to_binary(value: Any) -> bytes:
    return b"\x01" + orjson.dumps(value, default=json_default)  # jsonb's binary format: v1 + text


def _jsonb_from_binary(data: bytes) -> Any:
    return orjson.loads(data[1:])


async def connect_for_copy(dsn: str) -> asyncpg.Connection:
    """A connection that can COPY rows holding json and jsonb values: COPY through asyncpg
    (`copy_records_to_table`) encodes every value in PostgreSQL's binary format, which the text
    codecs of `connect` do not offer. Values are the same: orjson, the same defaults."""
    conn = await asyncpg.connect(dsn)
    await conn.set_type_codec(
        "json",
        encoder=lambda value: orjson.dumps(value, default=json_default),
        decoder=orjson.loads,
        schema="pg_catalog",
        format="binary",
    )
    await conn.set_type_codec(
        "jsonb",
        encoder=_jsonb_to_binary,
        decoder=_jsonb_from_binary,
        schema="pg_catalog",
        format="binary",
    )
    return conn
