"""`make bench`: Caretrail's append rate against raw PostgreSQL INSERTs, side by side.

Baseline: an asyncpg loop of single-row INSERT statements (autocommit, so one commit each) into a
plain table with the same payload. Subject: `EventStore.append` creating a new stream with one
event per call. Both run on the same server, from the same process, at 1, 4 and 16 concurrent
writers, alternating in rounds so machine noise hits both alike; each figure is the median over
the rounds. Every result is printed as `BENCH <name> <value> <unit> ratio=<value/baseline>`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import orjson
import uvloop

from backend.eventstore import NO_STREAM, EventStore, NewEvent, StreamAppend
from backend.eventstore.db import create_pool
from backend.eventstore.migrate import upgrade_to_head
from backend.settings import with_user

PAYLOAD = {
    "given_name": "Ada",
    "family_name": "Lovelace",
    "birth_date": "1815-12-10",
    "sex": "female",
    "phone": "+44 20 1234 5678",
}
METADATA = {"actor": "bench", "roles": ["RECEPTIONIST"], "request_id": "bench"}


async def _admin_dsn() -> str:
    dsn = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        await (await asyncpg.connect(dsn, timeout=3)).close()
        return dsn
    except (OSError, asyncpg.PostgresError, TimeoutError):
        from backend.eventstore.embedded import start_embedded

        return (await start_embedded(".data/bench")).replace("/caretrail?", "/postgres?", 1)


def _with_database(dsn: str, name: str) -> str:
    head, _, tail = dsn.partition("?")
    return f"{head.rsplit('/', 1)[0]}/{name}" + (f"?{tail}" if tail else "")


async def _rate(writers: int, seconds: float, op: Callable[[], Awaitable[object]]) -> float:
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


async def _level(owner: str, writers: int, seconds: float, rounds: int) -> tuple[float, float]:
    """Median raw INSERT commits/s and median appends/s at `writers` concurrent writers."""
    raw_pool = await create_pool(owner, min_size=writers, max_size=writers)
    app_pool = await create_pool(
        with_user(owner, "caretrail_app"), min_size=writers, max_size=writers
    )
    store = EventStore(app_pool)
    tenant = uuid.uuid4()
    payload, metadata = orjson.dumps(PAYLOAD).decode(), orjson.dumps(METADATA).decode()

    async def raw_insert() -> object:
        return await raw_pool.execute(
            "INSERT INTO bench_raw (tenant_id, data, metadata)"
            " VALUES ($1, $2::text::jsonb, $3::text::jsonb)",
            tenant,
            payload,
            metadata,
        )

    async def append() -> object:
        event = NewEvent(
            uuid.uuid4(), "PatientRegistered", PAYLOAD, dt.datetime.now(dt.UTC), METADATA
        )
        return await store.append(
            tenant, [StreamAppend("patient", uuid.uuid4(), NO_STREAM, (event,))]
        )

    try:
        await _rate(writers, 0.5, raw_insert)  # warm both pools and caches
        await _rate(writers, 0.5, append)
        baseline, subject = [], []
        for _ in range(rounds):
            baseline.append(await _rate(writers, seconds, raw_insert))
            subject.append(await _rate(writers, seconds, append))
        return statistics.median(baseline), statistics.median(subject)
    finally:
        await raw_pool.close()
        await app_pool.close()


async def run(seconds: float, rounds: int, levels: list[int]) -> None:
    admin = await _admin_dsn()
    name = f"caretrail_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    server_version = await conn.fetchval("SHOW server_version")
    await conn.close()
    owner = _with_database(admin, name)
    try:
        await upgrade_to_head(owner)
        raw = await asyncpg.connect(owner)
        await raw.execute(
            "CREATE TABLE bench_raw (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
            " tenant_id uuid NOT NULL, data jsonb NOT NULL, metadata jsonb NOT NULL)"
        )
        await raw.close()
        print(f"# PostgreSQL {server_version}; {seconds:.0f} s per run, {rounds} rounds, median")
        for writers in levels:
            base, subj = await _level(owner, writers, seconds, rounds)
            print(f"BENCH raw_insert_c{writers} {base:.0f} commits/s ratio=1.00", flush=True)
            print(
                f"BENCH store_append_c{writers} {subj:.0f} events/s ratio={subj / base:.2f}",
                flush=True,
            )
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()
    uvloop.run(run(args.seconds, args.rounds, args.writers))  # the API's event loop too


if __name__ == "__main__":
    main()
