"""Kafka projector throughput: one `caretrail project` process against two in one consumer group
(they split the partitions), each run building every read model from the same store as the
relay publishes it. The figure for two is printed as a ratio of the figure for
one, measured in the same run; each on a database and a broker of its own."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from backend.eventstore.db import connect
from bench.common import bench_database, report
from bench.projections import seed_patients
from projections import tracking
from projections.local_broker import local_kafka_broker

PARTITIONS = 3
GROUP = "caretrail.projector.kafka"
WATCHED = "patients"
"""The read model whose progress is timed (every projection runs; this one wants every event)."""


async def run(patients: int) -> None:
    rates = [await _rate(patients, processes) for processes in (1, 2)]
    print(f"# kafka projector: {PARTITIONS} partitions, every read model", flush=True)
    report("kafka_projector_1", rates[0], "events/s", rates[0])
    report("kafka_projector_2", rates[1], "events/s", rates[0])


async def _rate(patients: int, processes: int) -> float:
    """Events per second through the relay and `processes` projector processes, from the moment
    the projectors have all joined their group (their start is not timed) and the relay
    starts publishing the store, until the read models have it all."""
    with local_kafka_broker() as bootstrap:
        async with bench_database() as owner:
            await seed_patients(owner, patients)
            env = {
                **os.environ,
                "DATABASE_URL": owner,
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "KAFKA_PARTITIONS": str(PARTITIONS),
                "CARETRAIL_ENV": "dev",
                "CARETRAIL_LOG_LEVEL": "WARNING",
            }
            watch = await connect(owner)
            try:
                head = await watch.fetchrow(
                    "SELECT tx_id::text::bigint AS tx_id, position, count(*) OVER () AS n"
                    " FROM events ORDER BY tx_id DESC, position DESC LIMIT 1"
                )
                projectors = [await _start("project", env) for _ in range(processes)]
                await _until(watch, lambda: _joined(bootstrap, processes))
                started = time.perf_counter()  # process start and group joins not timed
                relay = await _start("relay", env)
                await _until(watch, lambda: _projected(watch, head["tx_id"], head["position"]))
                elapsed = time.perf_counter() - started
                for process in [relay, *projectors]:
                    process.send_signal(signal.SIGTERM)
                    await process.wait()
                return int(head["n"]) / elapsed
            finally:
                await watch.close()


async def _start(command: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        command,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _joined(bootstrap: str, processes: int) -> bool:
    """The projector group has all its members (each then holds partitions)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_consumer_groups([GROUP])
        groups = described.to_object()["groups"]
        return any(g["state"] == "Stable" and len(g["members"]) == processes for g in groups)
    finally:
        await admin.close()


async def _projected(watch: asyncpg.Connection, tx_id: int, position: int) -> bool:
    places = await tracking.least_places(watch, PARTITIONS)
    reached = places.get(WATCHED)
    return reached is not None and (reached.tx_id, reached.position) >= (tx_id, position)


async def _until(_: asyncpg.Connection, done: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if await done():
            return
        await asyncio.sleep(0.05)
    msg = "the Kafka path did not get there within 300 s"
    raise RuntimeError(msg)
