"""Throw-away databases for tests and benchmarks: created, migrated, dropped.

The admin DSN comes from an environment variable (default: the local server on 127.0.0.1:5432);
when nothing answers there, an embedded PostgreSQL under `.data/<name>` is started instead, so
both run on any machine.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from backend.eventstore.migrate import ROOT, upgrade_to_head

LOCAL_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def admin_dsn(env_var: str, embedded_dir: str) -> str:
    dsn = os.environ.get(env_var, LOCAL_ADMIN)
    try:
        await (await asyncpg.connect(dsn, timeout=3)).close()
        return dsn
    except (OSError, asyncpg.PostgresError, TimeoutError):
        if env_var in os.environ:
            raise
    from backend.eventstore.embedded import start_embedded

    embedded = await start_embedded(str(Path(ROOT) / ".data" / embedded_dir))
    return embedded.replace("/caretrail?", "/postgres?", 1)


@asynccontextmanager
async def scratch_database(env_var: str, embedded_dir: str, prefix: str) -> AsyncIterator[str]:
    """A new, migrated database; its owner DSN. Dropped afterwards."""
    admin = await admin_dsn(env_var, embedded_dir)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    head, _, tail = admin.partition("?")
    owner = f"{head.rsplit('/', 1)[0]}/{name}" + (f"?{tail}" if tail else "")
    try:
        await upgrade_to_head(owner)
        yield owner
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
