"""The relay: reads the store in gap-safe global order and publishes every event to Kafka,
each batch followed by a progress marker on every partition (see kafka_runner).

At least once: a batch is published and acknowledged by the broker (acks=all) before the relay's
checkpoint moves past it, so a crash in between publishes that batch again after restart.
Consumers make that harmless (see kafka_runner). The producer is not Kafka's idempotent
producer: it is not available on every broker we run against, and duplicates are handled
downstream anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

from backend import observability
from backend.eventstore.store import GlobalReader
from backend.eventstore.types import GlobalCheckpoint
from projections import liveness, tracking
from projections.kafka_codec import TOPIC, encode, encode_marker, partition_of
from projections.liveness import Heartbeat
from projections.progress_log import PROGRESS_LOG_SECONDS, ProgressLog

log = structlog.get_logger("caretrail.relay")
HEARTBEAT_SECONDS = 1.0
"""How often an idle relay still marks every partition with its checkpoint."""


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
        progress_every: float = PROGRESS_LOG_SECONDS,
    ) -> None:
        self.pool = pool
        self.producer = producer
        self.partitions = partitions
        self.topic = topic
        self.name = name
        self.reader = GlobalReader(pool)
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self._marked = 0.0
        self._marks: list[asyncio.Future[Any]] = []
        """The last markers sent, their acks not yet waited for."""
        self._published: GlobalCheckpoint | None = None
        """The relay's checkpoint as it last read or moved it (None: read it again)."""
        self.progress = ProgressLog("relay_progress", log, every=progress_every)
        self.heartbeat = Heartbeat(pool, liveness.RELAY, name)

    async def checkpoint(self) -> GlobalCheckpoint:
        """Where the relay has published to: read at its first step and after a failed one, else
        as it last moved it (nothing else moves it)."""
        if self._published is None:
            self._published = await tracking.relay_checkpoint(self.pool, self.name)
        return self._published

    async def step(self) -> int:
        """Publish the next batch, then a progress marker to every partition; the number of
        events published. When idle, a marker goes out every HEARTBEAT_SECONDS, so consumers
        (and readiness) can tell a quiet store from a stalled relay."""
        await self.heartbeat.beat()
        checkpoint = await self.checkpoint()
        events = await self.reader.read_after(checkpoint, self.batch_size)
        if not events:
            if time.monotonic() - self._marked > HEARTBEAT_SECONDS:
                await self._mark(checkpoint)
            return 0
        sent = []
        for event in events:
            key, value, headers = encode(event)
            partition = partition_of(event.stream_id, self.partitions)
            # In the trace of the command that appended the event: the aiokafka
            # instrumentation's send span, a child of this one, names itself in the
            # message's `traceparent` header, which the projectors continue.
            with observability.TRACER.start_as_current_span(
                "relay publish",
                context=observability.context_of(event.metadata.get("traceparent")),
                attributes=observability.event_attributes(event),
            ):
                sent.append(
                    await self.producer.send(
                        self.topic, value, key=key, partition=partition, headers=headers
                    )
                )
        await asyncio.gather(*sent)  # every event acknowledged before the checkpoint moves
        last = GlobalCheckpoint(events[-1].tx_id, events[-1].position)
        await self._mark(last)
        # Not waiting for the WAL flush: a checkpoint lost with PostgreSQL's last moment is
        # published again, and consumers skip what they already have.
        await tracking.move_relay(self.pool, self.name, last, durable=False)
        self._published = last
        self.progress.moved(len(events), relay=self.name, position=last.position)
        return len(events)

    async def _mark(self, at: GlobalCheckpoint) -> None:
        """Tell every partition that everything up to `at` has been published to it.

        The markers are sent, and their acks waited for only before the next markers: a marker
        claims nothing that is not already acknowledged, and a partition keeps the order it
        was sent in, so one lost is only progress shown later (by the next). Waiting for them
        within the step added a second broker round trip to every event's way."""
        marks, self._marks = self._marks, []
        await asyncio.gather(*marks)
        value, headers = encode_marker(at.tx_id, at.position)
        self._marks = [
            await self.producer.send(self.topic, value, partition=partition, headers=headers)
            for partition in range(self.partitions)
        ]
        self._marked = time.monotonic()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                published = await self.step()
            except (OSError, asyncpg.PostgresError) as e:
                log.warning("relay_step_failed", error=str(e))
                self._published = None  # as the database has it, whatever failed
                published = 0
                await asyncio.sleep(1)
            if published == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.idle_seconds)
