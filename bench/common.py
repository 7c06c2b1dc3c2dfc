"""What the benchmarks share: a throw-away database, a rate loop, the BENCH line."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg

from backend.eventstore.scratch import scratch_database

BENCH_MASTER_KEY = "YmVuY2gtbWFzdGVyLWtleS1vZi10aGUtYmVuY2hlcyE="
"""Base64 of 32 bytes: seals the benches' data; every server a bench starts inherits it."""


@asynccontextmanager
async def bench_database() -> AsyncIterator[str]:
    """A new, migrated database on the bench server (BENCH_DATABASE_URL); its owner DSN."""
    async with scratch_database("BENCH_DATABASE_URL", "bench", "caretrail_bench") as owner:
        conn = await asyncpg.connect(owner)
        print(f"# PostgreSQL {await conn.fetchval('SHOW server_version')}", flush=True)
        await conn.close()
        yield owner


async def analyse(owner: str) -> None:
    """ANALYZE the whole database, as autovacuum would have by then: this machine's PostgreSQL
    runs without it, and the connections' cached plans would stay those made for empty tables
    (docs/operations.md, "Statistics: keep autovacuum on")."""
    conn = await asyncpg.connect(owner)
    try:
        await conn.execute("ANALYZE")
    finally:
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
