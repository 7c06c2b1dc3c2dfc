"""Projection figures: rebuild throughput against raw batched INSERTs and a raw COPY of as many
rows, and commit-to-read-model lag at a steady command rate, through the catch-up path and
through Kafka, against the commit latency of raw INSERTs at the same rate."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import os
import signal
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg

from backend.catalog import READ_MODELS, projector_pool_size
from backend.eventstore import ANY, NO_STREAM, EventStore, NewEvent, StreamAppend
from backend.eventstore.db import connect_for_copy, create_pool
from backend.kernel.events import DomainEvent, to_data
from backend.patients.events import PatientDetailsChanged, PatientRegistered
from backend.patients.projections import PATIENTS
from backend.privacy import keys
from backend.privacy.sealing import sealed_data
from backend.settings import with_user
from bench.common import analyse, report
from projections.rebuild import BATCH as REBUILD_BATCH
from projections.rebuild import rebuild
from projections.service import ProjectionService

BATCH = 2000
APP_CONNECTIONS = 16
"""The lag bench's command pool. Each connection makes one registration before the timed run,
all at once (so the pool opens them all), as a running API's connections have: a server
session's first append compiles append_events and plans its statements, and 16 of them in the
first half second of the run took commands to 200-540 ms and the lag to 120-210 ms."""


def _registered(patient_id: uuid.UUID, n: int, key: bytes | None = None) -> NewEvent:
    event = PatientRegistered(
        patient_id,
        f"Given{n}",
        f"Family{n}",
        dt.date(1980, 1, 1),
        "unknown",
        "+12125550100",
        None,
        {},
        "+1 212 555 0100",
    )
    return _stored(event, key)


def _changed(patient_id: uuid.UUID, key: bytes | None = None) -> NewEvent:
    return _stored(
        PatientDetailsChanged(
            patient_id, {"phone": "+12125550199", "phone_as_typed": "+1 212 555 0199"}
        ),
        key,
    )


def _stored(event: DomainEvent, key: bytes | None) -> NewEvent:
    """The event as commands store it (backend/handling.py): personal fields sealed when a data
    key is given, at its class's schema version."""
    event_id, data = uuid.uuid4(), to_data(event)
    if key is not None:
        data = sealed_data(type(event), data, key, event_id)
    now = dt.datetime.now(dt.UTC)
    return NewEvent(event_id, event.type_name(), data, now, schema_version=event.schema_version)


async def rebuild_throughput(owner: str, patients: int, rounds: int) -> None:
    """Seed `patients` registrations plus a change for every other one, sealed with each
    patient's key as commands store them, then rebuild, alternating with the baselines."""
    tenant = await seed_patients(owner, patients)
    conn = await connect_for_copy(owner)
    events = await conn.fetchval("SELECT count(*) FROM events")
    figures: dict[str, list[float]] = {"insert": [], "copy": [], "rebuild": []}
    for _ in range(rounds):
        figures["insert"].append(await _raw_batch_insert(conn, tenant, events))
        figures["copy"].append(await _raw_copy(conn, tenant, events))
        started = time.perf_counter()
        await rebuild(
            owner, with_user(owner, "caretrail_projector"), PATIENTS, lambda *_: None, restart=True
        )
        figures["rebuild"].append(events / (time.perf_counter() - started))
    await conn.close()
    insert, copy, rebuilt = (statistics.median(figures[k]) for k in ("insert", "copy", "rebuild"))
    by_round = zip(figures["rebuild"], figures["insert"], figures["copy"], strict=True)
    print(
        f"# rebuild: {events} events ({patients} patients), chunks of {REBUILD_BATCH},"
        f" medians of {rounds} rounds; by round, rebuild/insert and rebuild/copy:"
        f" {', '.join(f'{r / i:.2f} {r / c:.2f}' for r, i, c in by_round)}",
        flush=True,
    )
    report("raw_batch_insert", insert, "rows/s", insert)
    report("raw_copy", copy, "rows/s", copy)
    report("projection_rebuild", rebuilt, "events/s", insert)
    report("projection_rebuild_vs_raw_copy", rebuilt, "events/s", copy)


async def seed_patients(owner: str, patients: int) -> uuid.UUID:
    store_pool = await create_pool(with_user(owner, "caretrail_app"), max_size=4)
    store = EventStore(store_pool)
    tenant = uuid.uuid4()
    for start in range(0, patients, 100):
        ids = [uuid.uuid4() for _ in range(min(100, patients - start))]
        async with store.transaction(tenant) as conn:
            appends = []
            for i, pid in enumerate(ids):
                key = await keys.data_key_for_writing(conn, tenant, pid)
                first = _registered(pid, start + i, key)
                events = (first, _changed(pid, key)) if i % 2 else (first,)
                appends.append(StreamAppend("patient", pid, NO_STREAM, events))
            await store.append(tenant, appends, conn)
    await store_pool.close()
    return tenant


_RAW_COLUMNS = (
    "tenant_id",
    "patient_id",
    "given_name",
    "family_name",
    "search_name",
    "birth_date",
    "sex",
    "phone",
    "phone_digits",
    "email",
    "specialty_data",
    "version",
)
_RAW_ROW: tuple[Any, ...] = (
    "Given",
    "Family",
    "given family",
    dt.date(1980, 1, 1),
    "unknown",
    "+1 555",
    "1555",
    None,
    {},
    1,
)


async def _raw_batch_insert(conn: asyncpg.Connection, tenant: uuid.UUID, rows: int) -> float:
    """Rows of the read model's shape a second, inserted with `executemany` in transactions of
    BATCH rows."""
    await conn.execute("DROP TABLE IF EXISTS bench_rows")
    await conn.execute("CREATE TABLE bench_rows (LIKE rm_patients INCLUDING ALL)")
    placeholders = ", ".join(f"${i}" for i in range(1, len(_RAW_COLUMNS) + 1))
    insert = f"INSERT INTO bench_rows ({', '.join(_RAW_COLUMNS)}) VALUES ({placeholders})"
    started = time.perf_counter()
    for start in range(0, rows, BATCH):
        async with conn.transaction():
            await conn.executemany(
                insert,
                [(tenant, uuid.uuid4(), *_RAW_ROW) for _ in range(min(BATCH, rows - start))],
            )
    return rows / (time.perf_counter() - started)


async def _raw_copy(conn: asyncpg.Connection, tenant: uuid.UUID, rows: int) -> float:
    """The same rows with COPY (`copy_records_to_table`), a transaction per REBUILD_BATCH rows,
    as the rebuild writes its chunks."""
    await conn.execute("DROP TABLE IF EXISTS bench_copy")
    await conn.execute("CREATE TABLE bench_copy (LIKE rm_patients INCLUDING ALL)")
    started = time.perf_counter()
    for start in range(0, rows, REBUILD_BATCH):
        records = [
            (tenant, uuid.uuid4(), *_RAW_ROW) for _ in range(min(REBUILD_BATCH, rows - start))
        ]
        async with conn.transaction():
            await conn.copy_records_to_table("bench_copy", records=records, columns=_RAW_COLUMNS)
    return rows / (time.perf_counter() - started)


async def _paced(rate: float, seconds: float, op: Callable[[], Awaitable[float]]) -> list[float]:
    """Start `op` `rate` times a second for `seconds`, without waiting for earlier ones; the
    values they return."""
    tasks: list[asyncio.Task[float]] = []
    started = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(op()))  # type: ignore[arg-type]
    return list(await asyncio.gather(*tasks))


def _percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


async def raw_commit_latency(owner: str, rate: float, seconds: float) -> tuple[float, float]:
    pool = await create_pool(owner, max_size=16)
    await pool.execute("CREATE TABLE IF NOT EXISTS bench_latency (id uuid, data jsonb)")

    async def insert() -> float:
        started = time.perf_counter()
        await pool.execute(
            "INSERT INTO bench_latency VALUES ($1, $2::text::jsonb)", uuid.uuid4(), '{"a": 1}'
        )
        return (time.perf_counter() - started) * 1000

    try:
        return _percentiles(await _paced(rate, seconds, insert))
    finally:
        await pool.close()


async def read_model_lag(
    owner: str,
    rate: float,
    seconds: float,
    consumers: Callable[[EventStore], AbstractAsyncContextManager[None]],
) -> tuple[float, float]:
    """Milliseconds from an append's commit until its patient is in the read model."""
    app_pool = await create_pool(with_user(owner, "caretrail_app"), max_size=APP_CONNECTIONS)
    watch_pool = await create_pool(with_user(owner, "caretrail_projector"), max_size=2)
    store = EventStore(app_pool)
    tenant = uuid.uuid4()
    committed: dict[uuid.UUID, float] = {}
    visible: dict[uuid.UUID, float] = {}
    pending: set[uuid.UUID] = set()
    done = asyncio.Event()

    async def register() -> uuid.UUID:
        """A registration as the command stores it: the patient's key, the sealed event."""
        pid = uuid.uuid4()
        async with store.transaction(tenant) as conn:
            key = await keys.data_key_for_writing(conn, tenant, pid)
            appended = (_registered(pid, 0, key),)
            await store.append(tenant, [StreamAppend("patient", pid, ANY, appended)], conn)
        return pid

    async def command() -> float:
        pid = await register()
        committed[pid] = time.perf_counter()
        pending.add(pid)
        return 0.0

    async def watch() -> None:
        """Looks for the patients not seen yet, every millisecond. Only those: a look over
        every patient committed so far cost the bench's own event loop (which the projections
        share) more CPU with every second of the run (py-spy: 10% of the process)."""
        while not done.is_set() or pending:
            if pending:
                rows = await watch_pool.fetch(
                    "SELECT patient_id FROM rm_patients WHERE patient_id = ANY($1)", list(pending)
                )
                now = time.perf_counter()
                for r in rows:
                    visible[r["patient_id"]] = now
                    pending.discard(r["patient_id"])
            await asyncio.sleep(0.001)

    async with consumers(store):
        warm_up = await asyncio.gather(*(register() for _ in range(APP_CONNECTIONS)))
        await _seen(watch_pool, warm_up)  # through the projections too, before timing
        await analyse(owner)  # else the projections' key query scanned every subject key
        # What start-up made, out of the collector's way, as the API does once started
        # (backend/bootstrap.py): else a full collection walked it in the middle of the timed
        # run (160 ms of the event loop, 5 s in; about 140 events over 50 ms, the p99 alone).
        gc.collect()
        gc.freeze()
        watcher = asyncio.create_task(watch())
        await _paced(rate, seconds, command)
        done.set()
        await asyncio.wait_for(watcher, 60)
    await app_pool.close()
    await watch_pool.close()
    return _percentiles([(visible[p] - committed[p]) * 1000 for p in committed])


async def _seen(pool: asyncpg.Pool, patients: list[uuid.UUID]) -> None:
    """Until `patients` are all in the read model (60 s at most)."""
    for _ in range(600):
        found = await pool.fetchval(
            "SELECT count(*) FROM rm_patients WHERE patient_id = ANY($1)", patients
        )
        if found == len(patients):
            return
        await asyncio.sleep(0.1)
    msg = "the warm-up registrations did not reach the read model within 60 s"
    raise RuntimeError(msg)


def catch_up_consumers(owner: str) -> Callable[[EventStore], AbstractAsyncContextManager[None]]:
    """Every projection in this process, as the API runs them without Kafka: woken by the
    appends of the process's store. Timed once the warm-up registrations of `read_model_lag`
    have made it through: the group's first batch prepares its statements (a first batch took
    50-90 ms where the next took 5)."""

    @asynccontextmanager
    async def running(store: EventStore) -> AsyncIterator[None]:
        pool = await create_pool(
            with_user(owner, "caretrail_projector"), max_size=projector_pool_size()
        )
        service = ProjectionService(
            pool, READ_MODELS, group="projections", signal=store.appended, durable=False
        )
        await service.start()
        try:
            yield
        finally:
            await service.stop()
            await pool.close()

    return running


def kafka_consumers(
    owner: str, bootstrap: str
) -> Callable[[EventStore], AbstractAsyncContextManager[None]]:
    """`caretrail relay` and `caretrail project` as their own processes, as deployed."""

    @asynccontextmanager
    async def running(_: EventStore) -> AsyncIterator[None]:
        env = {
            **os.environ,
            "DATABASE_URL": owner,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "KAFKA_PARTITIONS": "3",
            "CARETRAIL_ENV": "dev",
            "CARETRAIL_LOG_LEVEL": "WARNING",
        }
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "backend.cli",
                command,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            for command in ("relay", "project")
        ]
        try:
            yield  # timed once read_model_lag's warm-up has made it through
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
                await process.wait()

    return running
