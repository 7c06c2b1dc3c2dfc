"""Projection figures: rebuild throughput against raw batched INSERTs of as many rows, and
commit-to-read-model lag at a steady command rate, through the catch-up path and through Kafka,
against the commit latency of raw INSERTs at the same rate."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from backend.bench.common import report
from backend.eventstore import ANY, NO_STREAM, EventStore, NewEvent, StreamAppend
from backend.eventstore.db import connect, create_pool
from backend.kernel.events import DomainEvent, to_data
from backend.patients.events import PatientDetailsChanged, PatientRegistered
from backend.privacy import keys
from backend.privacy.sealing import sealed_data
from backend.settings import with_user
from projections.read_models import ALL, PATIENTS, projector_pool_size
from projections.rebuild import rebuild
from projections.service import ProjectionService

BATCH = 2000


def _registered(patient_id: uuid.UUID, n: int, key: bytes | None = None) -> NewEvent:
    event = PatientRegistered(
        patient_id,
        f"Given{n}",
        f"Family{n}",
        dt.date(1980, 1, 1),
        "unknown",
        "+1 555 0100",
        None,
        {},
    )
    return _stored(event, key)


def _changed(patient_id: uuid.UUID, key: bytes | None = None) -> NewEvent:
    return _stored(PatientDetailsChanged(patient_id, {"phone": "+1 555 0199"}), key)


def _stored(event: DomainEvent, key: bytes | None) -> NewEvent:
    """The event as commands store it: personal fields sealed when a data key is given."""
    event_id, data = uuid.uuid4(), to_data(event)
    if key is not None:
        data = sealed_data(type(event), data, key, event_id)
    return NewEvent(event_id, event.type_name(), data, dt.datetime.now(dt.UTC))


async def rebuild_throughput(owner: str, patients: int) -> None:
    """Seed `patients` registrations plus a change for every other one, sealed with each
    patient's key as commands store them, then rebuild."""
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
    owner_conn = await connect(owner)
    events = await owner_conn.fetchval("SELECT count(*) FROM events")
    await owner_conn.execute("CREATE TABLE bench_rows (LIKE rm_patients INCLUDING ALL)")
    row = (
        "Given",
        "Family",
        "given family",
        dt.date(1980, 1, 1),
        "unknown",
        "+1 555",
        "1555",
        None,
        "{}",
        1,
    )
    started = time.perf_counter()
    for start in range(0, events, BATCH):
        async with owner_conn.transaction():
            await owner_conn.executemany(
                "INSERT INTO bench_rows (tenant_id, patient_id, given_name, family_name,"
                " search_name, birth_date, sex, phone, phone_digits, email, specialty_data,"
                " version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12)",
                [(tenant, uuid.uuid4(), *row) for _ in range(min(BATCH, events - start))],
            )
    baseline = events / (time.perf_counter() - started)
    await owner_conn.close()
    started = time.perf_counter()
    await rebuild(
        owner, with_user(owner, "caretrail_projector"), PATIENTS, lambda *_: None, batch_size=BATCH
    )
    subject = events / (time.perf_counter() - started)
    print(f"# rebuild: {events} events ({patients} patients), batches of {BATCH}", flush=True)
    report("raw_batch_insert", baseline, "rows/s", baseline)
    report("projection_rebuild", subject, "events/s", baseline)


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
    consumers: Callable[[], AbstractAsyncContextManager[None]],
) -> tuple[float, float]:
    """Milliseconds from an append's commit until its patient is in the read model."""
    app_pool = await create_pool(with_user(owner, "caretrail_app"), max_size=16)
    watch_pool = await create_pool(with_user(owner, "caretrail_projector"), max_size=2)
    store = EventStore(app_pool)
    tenant = uuid.uuid4()
    committed: dict[uuid.UUID, float] = {}
    visible: dict[uuid.UUID, float] = {}
    done = asyncio.Event()

    async def command() -> float:
        """A registration as the command stores it: the patient's key, the sealed event."""
        pid = uuid.uuid4()
        async with store.transaction(tenant) as conn:
            key = await keys.data_key_for_writing(conn, tenant, pid)
            appended = (_registered(pid, 0, key),)
            await store.append(tenant, [StreamAppend("patient", pid, ANY, appended)], conn)
        committed[pid] = time.perf_counter()
        return 0.0

    async def watch() -> None:
        while not done.is_set() or len(visible) < len(committed):
            pending = [p for p in committed if p not in visible]
            if pending:
                rows = await watch_pool.fetch(
                    "SELECT patient_id FROM rm_patients WHERE patient_id = ANY($1)", pending
                )
                now = time.perf_counter()
                for r in rows:
                    visible[r["patient_id"]] = now
            await asyncio.sleep(0.001)

    async with consumers():
        watcher = asyncio.create_task(watch())
        await _paced(rate, seconds, command)
        done.set()
        await asyncio.wait_for(watcher, 60)
    await app_pool.close()
    await watch_pool.close()
    return _percentiles([(visible[p] - committed[p]) * 1000 for p in committed])


def catch_up_consumers(owner: str) -> Callable[[], AbstractAsyncContextManager[None]]:
    """Every projection in this process, as the API runs them without Kafka."""

    @asynccontextmanager
    async def running() -> AsyncIterator[None]:
        pool = await create_pool(
            with_user(owner, "caretrail_projector"), max_size=projector_pool_size()
        )
        service = ProjectionService(pool, ALL)
        await service.start()
        try:
            yield
        finally:
            await service.stop()
            await pool.close()

    return running


def kafka_consumers(owner: str, bootstrap: str) -> Callable[[], AbstractAsyncContextManager[None]]:
    """`caretrail relay` and `caretrail project` as their own processes, as deployed."""

    @asynccontextmanager
    async def running() -> AsyncIterator[None]:
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
            await _warm_up(owner)
            yield
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
                await process.wait()

    return running


async def _warm_up(owner: str) -> None:
    """Until one patient makes it through, so group joins and topic creation are not timed."""
    app_pool = await create_pool(with_user(owner, "caretrail_app"), min_size=1, max_size=1)
    watch = await connect(with_user(owner, "caretrail_projector"))
    try:
        pid = uuid.uuid4()
        event = _registered(pid, 0)
        await EventStore(app_pool).append(
            uuid.uuid4(), [StreamAppend("patient", pid, NO_STREAM, (event,))]
        )
        for _ in range(600):
            if await watch.fetchval("SELECT 1 FROM rm_patients WHERE patient_id = $1", pid):
                return
            await asyncio.sleep(0.1)
        msg = "the Kafka path did not deliver a first event within 60 s"
        raise RuntimeError(msg)
    finally:
        await watch.close()
        await app_pool.close()
