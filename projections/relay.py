"""The relay: reads the store in gap-safe global order and publishes every event to Kafka.

At least once: a batch is published and acknowledged by the broker (acks=all) before the relay's
checkpoint moves past it, so a crash in between publishes that batch again after restart.
Consumers make that harmless (see kafka_runner). The producer is not Kafka's idempotent
producer: it is not available on every broker we run against, and duplicates are handled
downstream anyway.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

from backend.eventstore.store import GlobalReader
from backend.eventstore.types import GlobalCheckpoint
from projections.kafka_codec import TOPIC, encode, partition_of

log = structlog.get_logger("caretrail.relay")


class Relay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        *,
        partitions: int,
        topic: str = TOPIC,
        name: str = "kafka",
        batch_size: int = 500,
        idle_seconds: float = 0.01,
    ) -> None:
        self.pool = pool
        self.producer = producer
        self.partitions = partitions
        self.topic = topic
        self.name = name
        self.reader = GlobalReader(pool)
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds

    async def checkpoint(self) -> GlobalCheckpoint:
        row = await self.pool.fetchrow(
            "SELECT tx_id::text::bigint AS tx_id, position FROM relay_checkpoints WHERE name = $1",
            self.name,
        )
        if row is None:  # first run: from the beginning of the global order
            await self.pool.execute(
                "INSERT INTO relay_checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING",
                self.name,
            )
            return GlobalCheckpoint()
        return GlobalCheckpoint(row["tx_id"], row["position"])

    async def step(self) -> int:
        """Publish the next batch; the number of events published."""
        events = await self.reader.read_after(await self.checkpoint(), self.batch_size)
        if not events:
            return 0
        sent = []
        for event in events:
            key, value, headers = encode(event)
            partition = partition_of(event.stream_id, self.partitions)
            sent.append(
                await self.producer.send(
                    self.topic, value, key=key, partition=partition, headers=headers
                )
            )
        await asyncio.gather(*sent)  # every event acknowledged before the checkpoint moves
        last = events[-1]
        await self.pool.execute(
            "UPDATE relay_checkpoints SET tx_id = $2::text::xid8, position = $3,"
            " updated_at = now() WHERE name = $1",
            self.name,
            str(last.tx_id),
            last.position,
        )
        return len(events)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                published = await self.step()
            except (OSError, asyncpg.PostgresError) as e:
                log.warning("relay_step_failed", error=str(e))
                published = 0
                await asyncio.sleep(1)
            if published == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.idle_seconds)
