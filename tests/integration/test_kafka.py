"""The Kafka path against a real Kafka-protocol broker: the relay publishes the store in global
order, Kafka-fed projections build read models identical, row for row, to the catch-up ones."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from structlog.testing import capture_logs
from support import new_tenant
from workload import wait_caught_up, workload

from backend.catalog import READ_MODELS as ALL
from backend.eventstore.db import connect, create_pool
from backend.eventstore.types import GlobalCheckpoint
from backend.processes import ensure_topic
from backend.settings import with_user
from projections import tracking
from projections.framework import TableProjection
from projections.kafka_codec import TOPIC, partition_of
from projections.kafka_runner import KafkaProjector
from projections.rebuild import create_shadow, rebuild, shadow_of
from projections.relay import Relay

PARTITIONS = 3


@pytest.fixture(scope="module")
async def topic(kafka_bootstrap: str) -> str:
    await ensure_topic(kafka_bootstrap, PARTITIONS, TOPIC)
    return TOPIC


@pytest.fixture
async def relay_pool(owner_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(with_user(owner_dsn, "caretrail_relay"), min_size=1, max_size=2)
    yield pool
    await pool.close()


async def test_kafka_read_models_equal_catch_up_read_models(
    client: httpx.AsyncClient,
    projector_pool: asyncpg.Pool,
    relay_pool: asyncpg.Pool,
    owner_dsn: str,
    kafka_bootstrap: str,
    topic: str,
) -> None:
    tenants = [await new_tenant(client) for _ in range(3)]
    last = await workload(client, tenants)
    await wait_caught_up(projector_pool, last)

    owner = await connect(owner_dsn)
    kafka_fed = []
    for projection in ALL:
        copy = shadow_of(projection, "kafka")
        await create_shadow(owner, projection.table, copy.table)
        kafka_fed.append(copy)
    await owner.close()

    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, enable_idempotence=False, acks="all"
    )
    await producer.start()
    stop = asyncio.Event()
    relay = Relay(relay_pool, producer, partitions=PARTITIONS)
    projector = KafkaProjector(
        projector_pool, kafka_fed, kafka_bootstrap, group=f"test-{uuid.uuid4().hex[:8]}"
    )
    tasks = [asyncio.create_task(relay.run(stop)), asyncio.create_task(projector.run(stop))]
    try:
        ids = [t.id for t in tenants]
        await _until_equal(projector_pool, kafka_fed, ids)
        assert await _published_headers(relay_pool) >= last
        # Rebuild two Kafka-fed tables while the consumers run, keep writing, and they still
        # converge: the swap makes the consumers re-read their partitions past the rebuild.
        projector_dsn = with_user(owner_dsn, "caretrail_projector")
        for fed in (kafka_fed[0], kafka_fed[3]):
            await rebuild(owner_dsn, projector_dsn, fed, lambda *_: None)
        last = await workload(client, tenants)
        await wait_caught_up(projector_pool, last)
        await _until_equal(projector_pool, kafka_fed, ids)
        # The reset a swap performs, at its most demanding: an empty table whose partitions
        # must be re-read from the very beginning.
        owner = await connect(owner_dsn)
        await owner.execute(f"DELETE FROM {kafka_fed[0].table}")
        await tracking.reread_partitions(owner, kafka_fed[0].name, GlobalCheckpoint())
        await owner.close()
        await _until_equal(projector_pool, kafka_fed, ids)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await producer.stop()


async def _until_equal(
    pool: asyncpg.Pool, kafka_fed: list[TableProjection], ids: list[uuid.UUID]
) -> None:
    deadline = time.monotonic() + 60
    pending = list(zip(ALL, kafka_fed, strict=True))
    while pending and time.monotonic() < deadline:
        live, fed = pending[0]
        expected = await _rows(pool, live.table, ids)
        if await _rows(pool, fed.table, ids) == expected and expected:
            pending.pop(0)
        else:
            await asyncio.sleep(0.1)
    assert not pending, f"{[p[1].table for p in pending]} never matched"


async def _rows(pool: asyncpg.Pool, table: str, tenants: list[object]) -> list[asyncpg.Record]:
    # Every read-model table's key is (tenant_id, its second column).
    return await pool.fetch(
        f"SELECT * FROM {table} WHERE tenant_id = ANY($1) ORDER BY 1, 2", tenants
    )


async def _published_headers(pool: asyncpg.Pool) -> int:
    position: int = await pool.fetchval(
        "SELECT position FROM relay_checkpoints WHERE name = 'kafka'"
    )
    return position


async def test_sql_and_relay_agree_on_each_streams_partition(projector_pool: asyncpg.Pool) -> None:
    ids = [uuid.uuid4() for _ in range(300)] + [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)]
    rows = await projector_pool.fetch(
        "SELECT id, stream_partition(id, $2) AS p FROM unnest($1::uuid[]) AS id", ids, 7
    )
    assert {r["id"]: r["p"] for r in rows} == {i: partition_of(i, 7) for i in ids}


async def test_the_relay_logs_its_progress(
    client: httpx.AsyncClient, relay_pool: asyncpg.Pool, kafka_bootstrap: str
) -> None:
    """A relay of its own (its checkpoint and topic) publishes the store; with no interval
    between progress lines, each batch says how many events went out and how far it got."""
    await new_tenant(client)  # at least one event to publish
    topic = f"caretrail.events.progress-{uuid.uuid4().hex[:8]}"
    await ensure_topic(kafka_bootstrap, 1, topic)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    name = f"progress-{uuid.uuid4().hex[:8]}"
    relay = Relay(relay_pool, producer, partitions=1, topic=topic, name=name, progress_every=0)
    try:
        with capture_logs() as logs:
            published = await relay.step()
    finally:
        await producer.stop()
    (line,) = [e for e in logs if e["event"] == "relay_progress"]
    assert (line["events"], line["relay"]) == (published, name)
    assert line["position"] == (await relay.checkpoint()).position
