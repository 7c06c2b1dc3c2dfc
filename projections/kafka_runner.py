"""Projections fed from Kafka: every projection of a projector process from one consumer.

A projector process reads the topic once for all its projections (consumer group
`caretrail.projector.<group>`; several processes split the partitions between them). A fetch
is applied in one PostgreSQL transaction to every member that wants any of it, together with
its partitions' progress (the group's rows), when every member that needs its partitions
follows the group there; else partition by partition, each with the partition's progress: the
group's row for the members attached to it, their own rows for members catching up alone
(projections/tracking.py). A member that wants
nothing in a batch costs nothing. On (re)assignment a partition is sought to the earliest
offset any member still needs; Kafka's committed offsets are only a hint for tools.

Each message's place in the global order travels in its headers. A record at or before a
member's place is a duplicate (a relay that crashed before its checkpoint publishes again) and
is skipped. The relay's progress markers move a partition's place even when none of its events
came: they are how read-your-writes knows that every partition has passed a position.

A member whose handler fails parks on that partition at the record it failed on (its earlier
records kept, the error in status); its other partitions carry on. Once resumed, or after a
rebuild swapped its table in, it is detached on a partition and behind: the partition is sought
back, the others skip what they already have, and it joins the group again when it has caught
up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from opentelemetry import trace
from opentelemetry.trace import Span

from backend import observability
from backend.eventstore import RecordedEvent
from backend.eventstore.db import TRANSIENT
from backend.eventstore.types import GlobalCheckpoint
from backend.privacy import keys
from projections import liveness, quarantine, tracking
from projections.framework import Projection
from projections.kafka_codec import (
    TOPIC,
    Envelope,
    consumer_group,
    decode,
    envelope,
    traceparent_of,
)
from projections.liveness import Heartbeat
from projections.progress_log import PROGRESS_LOG_SECONDS, ProgressLog
from projections.tracking import PartitionTracked

log = structlog.get_logger("caretrail.projector")
CONTROL_INTERVAL_SECONDS = 0.2
"""How often the projector looks for members to re-read for (resumed, rebuilt) and refreshes
Kafka's committed offsets."""


class _Moved(Exception):
    """Another process moved this partition's group row first (a rebalance overlapped)."""


class _Apart(Exception):
    """A fetch's partitions cannot be applied together: a member that needs one of them is
    catching up alone there, or its group row is not set up or is held by another process."""


@dataclass(frozen=True)
class _Record:
    offset: int
    place: GlobalCheckpoint
    marker: bool
    stream_type: str
    event_type: str
    raw: ConsumerRecord


def _read(record: ConsumerRecord) -> _Record:
    found: Envelope | None = envelope(record.headers)
    if found is None:  # published before the headers existed
        event = decode(record.value)
        found = Envelope(event.stream_type, event.event_type, event.tx_id, event.position)
    place = GlobalCheckpoint(found.tx_id, found.position)
    return _Record(record.offset, place, found.marker, found.stream_type, found.event_type, record)


def _unseen(read: list[_Record], offset: int, at: GlobalCheckpoint) -> list[_Record]:
    """The events of `read` (one partition's records, in offset order) past `offset` that come
    after every place already covered: `at`, then each record before them in the batch. A
    partition carries the global order, so a record at or before a place covered is a copy
    that a relay published again, whether the original was in an earlier batch or this one."""
    unseen = []
    for record in read:
        if record.offset <= offset or record.place <= at:
            continue
        at = record.place
        if not record.marker:
            unseen.append(record)
    return unseen


SPAN_LINKS = 32
"""At most this many other traces a batch's apply span links to."""


def _apply_span(
    name: str, partitions: Sequence[int], records: list[_Record], events: list[RecordedEvent]
) -> AbstractContextManager[Span]:
    """A projection's apply of a batch, in the trace of its first event (the publish span the
    message's header names, or else the command in the event's metadata), linked to the traces
    of the others: a trace followed from a request reaches the read model it changed."""
    parents = [
        observability.context_of(traceparent_of(r.raw.headers) or e.metadata.get("traceparent"))
        for r, e in zip(records, events, strict=True)
    ]
    others = [trace.get_current_span(c).get_span_context() for c in parents[1:]]
    attributes: dict[str, str | int | list[int]] = {
        **observability.event_attributes(events[0]),
        "caretrail.projection": name,
        "caretrail.partitions": list(partitions),
        "caretrail.events": len(events),
        "caretrail.last_position": events[-1].position,
    }
    return observability.TRACER.start_as_current_span(
        f"project {name}",
        context=parents[0],
        attributes=attributes,
        links=[trace.Link(c) for c in others[:SPAN_LINKS] if c.is_valid],
    )


class _SeekToNeeded(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, projector: KafkaProjector) -> None:
        self.projector = projector

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.projector.revoked(revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        for tp in assigned:
            await self.projector.seek_to_needed(tp, force=True)


class KafkaProjector:
    def __init__(
        self,
        pool: asyncpg.Pool,
        projections: Sequence[Projection],
        bootstrap_servers: str,
        *,
        group: str = "kafka",
        topic: str = TOPIC,
        max_records: int = 500,
        progress_every: float = PROGRESS_LOG_SECONDS,
        durable: bool = True,
    ) -> None:
        self.pool = pool
        self.durable = durable
        """False for read models: a batch's transaction commits without waiting for the WAL
        flush (what it writes is derived from the store and committed with its progress)."""
        self.group = group
        self.group_row = tracking.group_row(group)
        self.members = {p.name: p for p in projections}
        self.topic = topic
        self.max_records = max_records
        self._next: dict[int, int] = {}
        """Partition → the offset the consumer delivers next (-1: from the beginning)."""
        self._to_commit: dict[TopicPartition, int] = {}
        self.progress = ProgressLog("projector_progress", log, every=progress_every)
        self.heartbeat = Heartbeat(pool, liveness.PROJECTOR, group)
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=consumer_group(group, topic),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=10,  # latency over batching: commands wait on read models
        )

    @property
    def _names(self) -> list[str]:
        return [self.group_row, *self.members]

    async def run(self, stop: asyncio.Event) -> None:
        await tracking.ensure(self.pool, list(self.members))  # state rows, shown in status
        await self.heartbeat.beat()
        await self.consumer.start()
        self.consumer.subscribe([self.topic], listener=_SeekToNeeded(self))
        try:
            checked = 0.0
            while not stop.is_set():
                if time.monotonic() - checked > CONTROL_INTERVAL_SECONDS:
                    await self._control()
                    checked = time.monotonic()
                batches = await self.consumer.getmany(timeout_ms=50, max_records=self.max_records)
                if batches:
                    await self._apply_fetched(
                        {tp: [_read(r) for r in records] for tp, records in batches.items()}
                    )
        finally:
            await self.consumer.stop()

    async def _control(self) -> None:
        """Seek back partitions a member needs again, refresh Kafka's offsets (a hint), and
        say that this projector is alive (whether or not records come)."""
        await self.heartbeat.beat()
        assigned = self.consumer.assignment()
        if assigned:
            tracked = await tracking.read_partitions(
                self.pool, self._names, [tp.partition for tp in assigned]
            )
            for tp in assigned:
                await self.seek_to_needed(tp, rows=tracked.get(tp.partition, {}))
        assigned = self.consumer.assignment()
        offsets = {tp: offset for tp, offset in self._to_commit.items() if tp in assigned}
        self._to_commit.clear()
        if offsets:
            try:
                await self.consumer.commit(offsets)
            except KafkaError as e:  # a rebalance under way: only a hint is lost
                log.info("offsets_not_committed", group=self.group, error=str(e))

    def revoked(self, partitions: Any) -> None:
        """Partitions taken away by a rebalance (another process may own them now): their
        offsets are no longer this consumer's to commit, and where to read them from is found
        again if they come back."""
        for tp in partitions:
            self._to_commit.pop(tp, None)
            self._next.pop(tp.partition, None)

    async def seek_to_needed(
        self,
        tp: TopicPartition,
        *,
        force: bool = False,
        rows: dict[str, PartitionTracked] | None = None,
    ) -> None:
        """Seek `tp` to the earliest record a member still needs, if that is before where the
        consumer is (or always, on assignment). The partition's rows (read here unless given)
        are made where missing."""
        if rows is None:
            rows = await tracking.read_partition(self.pool, self._names, tp.partition)
        if len(rows) < len(self._names):
            await tracking.ensure_partitions(self.pool, self._names, tp.partition)
            rows = await tracking.read_partition(self.pool, self._names, tp.partition)
        needed = [self._effective(rows, n)[0] for n in self._needing(rows)]
        start = min(needed, default=rows[self.group_row].offset) + 1
        current = self._next.get(tp.partition)
        if not force and current is not None and (current <= start or current == 0):
            return
        if tp not in self.consumer.assignment():
            return  # revoked while the rows were read
        if start == 0:
            await self.consumer.seek_to_beginning(tp)
        else:
            self.consumer.seek(tp, start)
        self._next[tp.partition] = start

    def _needing(self, rows: dict[str, PartitionTracked]) -> list[str]:
        """Members that still take records on this partition: the attached ones, and the
        detached ones not parked on this partition."""
        return [
            n
            for n in self.members
            if n in rows and (rows[n].follows == self.group_row or rows[n].running)
        ]

    def _effective(
        self, rows: dict[str, PartitionTracked], name: str
    ) -> tuple[int, GlobalCheckpoint]:
        row, group = rows[name], rows[self.group_row]
        if row.follows == self.group_row:
            return max(row.offset, group.offset), max(row.own, group.own)
        return row.offset, row.own

    async def _apply_fetched(self, read: dict[TopicPartition, list[_Record]]) -> None:
        """A fetch's records, every partition of it in one transaction when that can be done
        (the steady state: every member that needs them follows the group); else, or when a
        member fails on them, partition by partition, where a failing member parks alone."""
        try:
            await self._apply_together(read)
        except TRANSIENT:
            raise
        except Exception as e:  # nothing was applied: the partitions one by one
            if not isinstance(e, _Apart):
                log.info("fetch_applied_apart", group=self.group, error=str(e))
            for tp, records in read.items():
                await self._apply_partition(tp, records)
            return
        for tp, records in read.items():
            self._applied(tp, records)

    async def _apply_together(self, read: dict[TopicPartition, list[_Record]]) -> None:
        """One transaction for every partition of the fetch: the group's rows locked, read and
        moved and the members' locked and read in one statement, each member applied once to
        what it wants of every partition (in partition order, each partition in its own order).
        Raises _Apart, having changed nothing, when it cannot."""
        partitions = {tp.partition: records for tp, records in read.items()}
        reached = [
            (p, records[-1].offset, max(r.place for r in records))
            for p, records in partitions.items()
        ]
        decoded: dict[tuple[int, int], RecordedEvent] = {}
        async with self.pool.acquire() as conn, conn.transaction():
            tracked = await tracking.lock_partitions(
                conn, self.group, reached, list(self.members), durable=self.durable
            )
            work: dict[str, list[tuple[int, _Record]]] = {}
            for partition, records in partitions.items():
                rows = tracked.get(partition, {})
                if self.group_row not in rows or self._gap(rows, partition, records[0].offset):
                    raise _Apart
                for name in self._reachable(rows, partition, records[0].offset):
                    if rows[name].follows != self.group_row:
                        raise _Apart
                    mine = _unseen(records, *self._effective(rows, name))
                    if any(self.members[name].wants(r.stream_type, r.event_type) for r in mine):
                        work.setdefault(name, []).extend((partition, r) for r in mine)
            with keys.opening_once():  # the members that unseal share one opening
                for name, placed in work.items():
                    events = [self._event(p, r, decoded) for p, r in placed]
                    spanned = sorted({p for p, _ in placed})
                    with _apply_span(name, spanned, [r for _, r in placed], events):
                        await self.members[name].apply(conn, events)

    def _gap(self, rows: dict[str, PartitionTracked], partition: int, first: int) -> bool:
        """The fetch starts past the record after the group's: the consumer is ahead of the
        group (a batch it read was refused), which the partition-by-partition path deals with."""
        return rows[self.group_row].offset + 1 < first and self._next.get(partition) != 0

    def _reachable(
        self, rows: dict[str, PartitionTracked], partition: int, first: int
    ) -> list[str]:
        """The members that need a partition's records and have everything before `first`."""
        return [
            n
            for n in self._needing(rows)
            if self._effective(rows, n)[0] + 1 >= first or self._next.get(partition) == 0
        ]

    def _applied(self, tp: TopicPartition, read: list[_Record]) -> None:
        self._next[tp.partition] = read[-1].offset + 1
        self._to_commit[tp] = read[-1].offset + 1
        events = sum(not r.marker for r in read)
        self.progress.moved(events, group=self.group, position=max(r.place for r in read).position)

    async def _apply_partition(self, tp: TopicPartition, read: list[_Record]) -> None:
        partition = tp.partition
        rows = await tracking.read_partition(self.pool, self._names, partition)
        if self.group_row not in rows:
            return  # assignment not set up yet: the listener seeks it first
        reachable = self._reachable(rows, partition, read[0].offset)
        try:
            try:
                await self._apply(partition, rows, reachable, read, isolate=False)
            except (_Moved, *TRANSIENT):
                raise
            except Exception:
                await self._apply(partition, rows, reachable, read, isolate=True)
        except _Moved:
            # Nothing of the batch was applied: read the partition again from where its rows
            # now say, rather than go on past records no member has.
            log.info("partition_moved", group=self.group, partition=partition)
            await self.seek_to_needed(tp, force=True)
            return
        self._applied(tp, read)

    async def _apply(
        self,
        partition: int,
        rows: dict[str, PartitionTracked],
        members: list[str],
        read: list[_Record],
        *,
        isolate: bool,
    ) -> None:
        group_offset, group_at = rows[self.group_row].offset, rows[self.group_row].own
        decoded: dict[tuple[int, int], RecordedEvent] = {}
        work: dict[str, list[_Record]] = {}
        for name in members:
            offset, at = self._effective(rows, name)
            mine = _unseen(read, offset, at)
            projection = self.members[name]
            if any(projection.wants(r.stream_type, r.event_type) for r in mine):
                work[name] = mine
        attached = [n for n in members if rows[n].follows == self.group_row]
        alone = [n for n in members if rows[n].follows is None]
        last = read[-1]
        latest = max(r.place for r in read)
        async with self.pool.acquire() as conn, conn.transaction():
            if not self.durable:
                await conn.execute("SET LOCAL synchronous_commit = off")
            locked = await tracking.lock_group_partition(conn, self.group, partition)
            if locked != (group_offset, group_at):
                raise _Moved
            still_attached, still_alone = await tracking.lock_partition_members(
                conn, self.group, partition, [n for n in attached if n in work], alone
            )
            with keys.opening_once():  # the members that unseal share one opening
                for name, mine in work.items():
                    if name not in still_attached and name not in still_alone:
                        continue
                    events = [self._event(partition, r, decoded) for r in mine]
                    with _apply_span(name, [partition], mine, events):
                        if isolate:
                            await self._isolated(conn, name, partition, rows, events, mine)
                        else:
                            await self.members[name].apply(conn, events)
            if last.offset > group_offset:
                group_offset, group_at = last.offset, max(group_at, latest)
                await tracking.move_partition(
                    conn, self.group_row, partition, group_offset, group_at
                )
            for name in still_alone:
                if isolate and not await self._still_alone(conn, name, partition):
                    continue  # parked in this batch
                at = max(rows[name].own, latest)
                joins = last.offset >= group_offset
                await tracking.move_partition(
                    conn,
                    name,
                    partition,
                    last.offset,
                    at,
                    follows=self.group_row if joins else None,
                )

    @staticmethod
    def _event(
        partition: int, record: _Record, decoded: dict[tuple[int, int], RecordedEvent]
    ) -> RecordedEvent:
        place = (partition, record.offset)
        if place not in decoded:
            decoded[place] = decode(record.raw.value)
        return decoded[place]

    async def _isolated(
        self,
        conn: asyncpg.Connection,
        name: str,
        partition: int,
        rows: dict[str, PartitionTracked],
        events: list[RecordedEvent],
        records: list[_Record],
    ) -> None:
        """Apply to one member inside savepoints; if an event fails, the member parks on this
        partition at the record before it."""
        failed = await quarantine.first_failure(conn, self.members[name], events)
        if failed is not None:
            index, error = failed
            offset, at = (
                (records[index - 1].offset, records[index - 1].place)
                if index
                else self._effective(rows, name)
            )
            await tracking.park_partition(conn, name, partition, offset, at)
            await tracking.park(conn, name, None, events[index], error)

    @staticmethod
    async def _still_alone(conn: asyncpg.Connection, name: str, partition: int) -> bool:
        rows = await tracking.read_partition(conn, [name], partition)
        return rows[name].running and rows[name].follows is None
