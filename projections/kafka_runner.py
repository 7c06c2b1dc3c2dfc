"""A projection fed from Kafka: one consumer group per projection.

The read-model rows and the partition's progress (offset and the event's place in the global
order) commit in one PostgreSQL transaction; on (re)assignment a partition is sought to the
offset after the one recorded there, so a redelivered message is never applied twice, and an
event the relay published twice (it crashed before its checkpoint) is recognised by its place
in the global order and skipped. Every projection is applied exactly once, counters included.
Kafka's committed offsets are updated after each batch as a hint for tools, never trusted.

A batch holding nothing the projection wants (by the stream and event type in the headers) is
neither decoded nor given a transaction: with one consumer group per projection, every
projection reads every event, and most are someone else's. How far such batches got is kept in
memory and written at most every FLUSH_SECONDS (or with the next applied batch), so waits on
this projection's position (read-your-writes) see it that much later; a restart re-reads at
most those batches, which change nothing.

A handler that raises parks the projection (state, error and position in
projection_checkpoints, like the catch-up runner) and pauses consumption until
`caretrail projections resume NAME`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord

from projections.catchup import park
from projections.framework import Projection
from projections.kafka_codec import TOPIC, Envelope, decode, envelope

CONTROL_INTERVAL_SECONDS = 0.2
"""How often the runner looks for a resume or a rebuild's reset (cheap, but not per batch)."""
FLUSH_SECONDS = 0.05
"""How long the progress through skipped batches may stay unrecorded."""


class _SeekToRecorded(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: KafkaProjectionRunner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.runner.seek_to_recorded(assigned)


class KafkaProjectionRunner:
    def __init__(
        self,
        pool: asyncpg.Pool,
        projection: Projection,
        bootstrap_servers: str,
        *,
        topic: str = TOPIC,
        max_records: int = 500,
    ) -> None:
        self.pool = pool
        self.projection = projection
        self.topic = topic
        self.max_records = max_records
        self._to_commit: dict[TopicPartition, int] = {}
        self._skipped: dict[int, tuple[int, int, int]] = {}
        """Partition → (offset, tx_id, position) of the last skipped record not yet recorded."""
        self._flushed = 0.0
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=f"caretrail.projection.{projection.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=10,  # latency over batching: commands wait on read models
        )

    async def seek_to_recorded(self, partitions: Any) -> None:
        rows = await self.pool.fetch(
            "SELECT partition, kafka_offset FROM projection_partitions WHERE name = $1",
            self.projection.name,
        )
        recorded = {r["partition"]: r["kafka_offset"] for r in rows}
        for tp in partitions:
            if recorded.get(tp.partition, -1) >= 0:
                self.consumer.seek(tp, recorded[tp.partition] + 1)
            else:
                await self.consumer.seek_to_beginning(tp)

    async def run(self, stop: asyncio.Event) -> None:
        await self.pool.execute(
            "INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING",
            self.projection.name,
        )
        await self.consumer.start()
        self.consumer.subscribe([self.topic], listener=_SeekToRecorded(self))
        try:
            checked = 0.0
            running = True
            while not stop.is_set():
                if time.monotonic() - checked > CONTROL_INTERVAL_SECONDS:
                    running, checked = await self._running(), time.monotonic()
                    if self._to_commit:  # Kafka's offsets are a hint: refresh them now and then
                        await self.consumer.commit(dict(self._to_commit))
                        self._to_commit.clear()
                if not running:
                    await asyncio.sleep(CONTROL_INTERVAL_SECONDS)
                    continue
                batches = await self.consumer.getmany(timeout_ms=50, max_records=self.max_records)
                for tp, records in batches.items():
                    if not await self._apply_partition(tp, records):
                        break
                if self._skipped and time.monotonic() - self._flushed > FLUSH_SECONDS:
                    await self._flush_skipped()
        finally:
            try:
                if self._skipped:
                    await self._flush_skipped()
            finally:
                await self.consumer.stop()

    async def _running(self) -> bool:
        state = await self.pool.fetchval(
            "SELECT state FROM projection_checkpoints WHERE name = $1", self.projection.name
        )
        await self._reread_reset_partitions()
        if state == "running" and self.consumer.paused():
            await self.seek_to_recorded(self.consumer.assignment())
            self.consumer.resume(*self.consumer.assignment())
        return bool(state == "running")

    async def _reread_reset_partitions(self) -> None:
        """A rebuild swapped in a new table and marked the partitions (offset -1): read ours
        again from the start (records the new table already reflects are skipped as duplicates)
        and mark them -2, being re-read, until the next applied batch records a real offset."""
        owned = [tp for tp in self.consumer.assignment()]
        rows = await self.pool.fetch(
            "UPDATE projection_partitions SET kafka_offset = -2"
            " WHERE name = $1 AND kafka_offset = -1 AND partition = ANY($2) RETURNING partition",
            self.projection.name,
            [tp.partition for tp in owned],
        )
        marked = {r["partition"] for r in rows}
        for tp in owned:
            if tp.partition in marked:
                self._skipped.pop(tp.partition, None)  # a place in what the rebuild replaced
                await self.consumer.seek_to_beginning(tp)

    async def _apply_partition(self, tp: TopicPartition, records: list[ConsumerRecord]) -> bool:
        places = [envelope(r.headers) for r in records]
        if all(p is not None and not self._wants(p) for p in places):
            last = places[-1]
            assert last is not None
            self._skipped[tp.partition] = (records[-1].offset, last.tx_id, last.position)
            self._to_commit[tp] = records[-1].offset + 1
            return True
        try:
            await self._apply(tp, records)
        except (OSError, asyncpg.InterfaceError):
            raise
        except Exception:
            for record in records:
                try:
                    await self._apply(tp, [record])
                except Exception as e:
                    await self._park(record, e)
                    return False
        self._to_commit[tp] = records[-1].offset + 1
        return True

    def _wants(self, place: Envelope) -> bool:
        return self.projection.wants(place.stream_type, place.event_type)

    async def _flush_skipped(self) -> None:
        """Record how far skipped batches got; never behind what an applied batch recorded, and
        never over a rebuild's reset (offset -1 or -2: the partition is to be read again)."""
        skipped, self._skipped = self._skipped, {}
        await self.pool.executemany(
            "INSERT INTO projection_partitions (name, partition, kafka_offset, tx_id, position)"
            " VALUES ($1, $2, $3, $4::text::xid8, $5)"
            " ON CONFLICT (name, partition) DO UPDATE SET kafka_offset = EXCLUDED.kafka_offset,"
            " tx_id = EXCLUDED.tx_id, position = EXCLUDED.position, updated_at = now()"
            " WHERE projection_partitions.kafka_offset >= 0"
            " AND (projection_partitions.tx_id, projection_partitions.position)"
            " < (EXCLUDED.tx_id, EXCLUDED.position)",
            [
                (self.projection.name, partition, offset, str(tx_id), position)
                for partition, (offset, tx_id, position) in skipped.items()
            ],
        )
        self._flushed = time.monotonic()

    async def _apply(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        self._skipped.pop(tp.partition, None)  # this batch records a later place
        events = [decode(r.value) for r in records]
        async with self.pool.acquire() as conn, conn.transaction():
            done = await conn.fetchrow(
                "SELECT tx_id::text::bigint AS tx_id, position"
                " FROM projection_partitions"
                " WHERE name = $1 AND partition = $2 FOR UPDATE",
                self.projection.name,
                tp.partition,
            )
            # A partition carries its streams' events in global order, and a relay that
            # crashed re-publishes a batch in that same order: whatever is not past what this
            # partition already applied is a duplicate.
            applied = (done["tx_id"], done["position"]) if done is not None else (0, 0)
            fresh = [e for e in events if (e.tx_id, e.position) > applied]
            await self.projection.apply(conn, fresh)
            tx_id, position = (fresh[-1].tx_id, fresh[-1].position) if fresh else applied
            await conn.execute(
                "INSERT INTO projection_partitions (name, partition, kafka_offset, tx_id, position)"
                " VALUES ($1, $2, $3, $4::text::xid8, $5)"
                " ON CONFLICT (name, partition) DO UPDATE SET kafka_offset = EXCLUDED.kafka_offset,"
                " tx_id = EXCLUDED.tx_id, position = EXCLUDED.position, updated_at = now()",
                self.projection.name,
                tp.partition,
                records[-1].offset,
                str(tx_id),
                position,
            )

    async def _park(self, record: ConsumerRecord, error: Exception) -> None:
        self.consumer.pause(*self.consumer.assignment())
        await park(self.pool, self.projection.name, decode(record.value), error)
