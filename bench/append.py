"""Caretrail's append rate against raw PostgreSQL INSERTs, side by side.

Baseline: an asyncpg loop of single-row INSERT statements (autocommit, so one commit each) into a
plain table with the same payload. Subject: `EventStore.append` creating a new stream with one
event per call. Both run on the same server, from the same process, at 1, 4 and 16 concurrent
writers, alternating in rounds so machine noise hits both alike; each figure is the median over
the rounds. Every result is printed as `BENCH <name> <value> <unit> ratio=<value/baseline>`.
"""

from __future__ import annotations

import datetime as dt
import statistics
import uuid

import asyncpg
import orjson

from backend.eventstore import NO_STREAM, EventStore, NewEvent, StreamAppend
from backend.eventstore.db import create_pool
from backend.settings import with_user
from bench.common import rate, report

PAYLOAD = {
    "given_name": "Ada",
    "family_name": "Lovelace",
    "birth_date": "1815-12-10",
    "sex": "female",
    "phone": "+44 20 1234 5678",
}
METADATA = {"actor": "bench", "roles": ["RECEPTIONIST"], "request_id": "bench"}


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
        await rate(writers, 0.5, raw_insert)  # warm both pools and caches
        await rate(writers, 0.5, append)
        baseline, subject = [], []
        for _ in range(rounds):
            baseline.append(await rate(writers, seconds, raw_insert))
            subject.append(await rate(writers, seconds, append))
        return statistics.median(baseline), statistics.median(subject)
    finally:
        await raw_pool.close()
        await app_pool.close()


async def run(owner: str, seconds: float, rounds: int, levels: list[int]) -> None:
    raw = await asyncpg.connect(owner)
    await raw.execute(
        "CREATE TABLE bench_raw (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " tenant_id uuid NOT NULL, data jsonb NOT NULL, metadata jsonb NOT NULL)"
    )
    await raw.close()
    print(f"# append: {seconds:.0f} s per run, {rounds} rounds, median", flush=True)
    for writers in levels:
        base, subj = await _level(owner, writers, seconds, rounds)
        report(f"raw_insert_c{writers}", base, "commits/s", base)
        report(f"store_append_c{writers}", subj, "events/s", base)
