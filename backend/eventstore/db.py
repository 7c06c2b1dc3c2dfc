"""Connection pools. Every connection decodes json/jsonb with orjson."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from backend.kernel.jsonable import json_default


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


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 20) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=_keep_session
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn
