"""What the benchmarks share: a throw-away database, a rate loop, the BENCH line."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg

from backend.eventstore.migrate import upgrade_to_head


async def _admin_dsn() -> str:
    dsn = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        await (await asyncpg.connect(dsn, timeout=3)).close()
        return dsn
    except (OSError, asyncpg.PostgresError, TimeoutError):
        from backend.eventstore.embedded import start_embedded

        return (await start_embedded(".data/bench")).replace("/caretrail?", "/postgres?", 1)


@asynccontextmanager
async def bench_database() -> AsyncIterator[str]:
    """A new, migrated database on the bench server; its owner DSN. Dropped afterwards."""
    admin = await _admin_dsn()
    name = f"caretrail_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    version = await conn.fetchval("SHOW server_version")
    await conn.close()
    head, _, tail = admin.partition("?")
    owner = f"{head.rsplit('/', 1)[0]}/{name}" + (f"?{tail}" if tail else "")
    print(f"# PostgreSQL {version}, database {name}", flush=True)
    try:
        await upgrade_to_head(owner)
        yield owner
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def rate(writers: int, seconds: float, op: Callable[[], Awaitable[object]]) -> float:
    """Operations per second of `writers` concurrent loops of `op` over `seconds`."""
    deadline = time.perf_counter() + seconds
    counts = [0] * writers

    async def loop(i: int) -> None:
        while time.perf_counter() < deadline:
            await op()
            counts[i] += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop(i) for i in range(writers)))
    return sum(counts) / (time.perf_counter() - started)


def report(name: str, value: float, unit: str, baseline: float) -> None:
    shown = f"{value:.0f}" if value >= 100 else f"{value:.2f}"
    print(f"BENCH {name} {shown} {unit} ratio={value / baseline:.2f}", flush=True)
