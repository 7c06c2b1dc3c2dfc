"""The Kafka path against a real Kafka-protocol broker: the relay publishes the store in global
order, Kafka-fed projections build read models identical, row for row, to the catch-up ones."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from support import new_tenant
from workload import wait_caught_up, workload

from backend.eventstore.db import connect, create_pool
from backend.settings import with_user
from projections.framework import TableProjection
from projections.kafka_codec import TOPIC, partition_of
from projections.kafka_runner import KafkaProjectionRunner
from projections.read_models import ALL
from projections.rebuild import _create_shadow, rebuild
from projections.relay import Relay

PARTITIONS = 3


@pytest.fixture(scope="module")
async def topic(kafka_bootstrap: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])
    finally:
        await admin.close()
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
        copy = dataclasses.replace(
            projection, name=f"{projection.name}__kafka", table=f"{projection.table}__kafka"
        )
        await _create_shadow(owner, projection.table, copy.table)
        kafka_fed.append(copy)
    await owner.close()

    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, enable_idempotence=False, acks="all"
    )
    await producer.start()
    stop = asyncio.Event()
    relay = Relay(relay_pool, producer, partitions=PARTITIONS)
    runners = [KafkaProjectionRunner(projector_pool, p, kafka_bootstrap) for p in kafka_fed]
    tasks = [asyncio.create_task(relay.run(stop))]
    tasks += [asyncio.create_task(r.run(stop)) for r in runners]
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
        await owner.execute(
            "UPDATE projection_partitions SET kafka_offset = -1, tx_id = '0', position = 0"
            " WHERE name = $1",
            kafka_fed[0].name,
        )
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
