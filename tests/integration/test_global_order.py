"""GlobalReader follows every tenant's events in the gap-safe order (tx_id, position).

Positions are taken at insert time but become visible at commit, so a reader that follows
`position > checkpoint` can step past a position whose transaction commits later and never see
it. GlobalReader only returns rows of transactions below its horizon, the oldest transaction
that may still write events (event_horizon() in migration 0002; the cluster-wide snapshot xmin
where the reader cannot see other sessions), in (tx_id, position) order, so nothing can appear
behind its checkpoint afterwards.

The waits after a commit are bounded polls (STALL_LIMIT), in case another client of the cluster
holds the horizon back for a while: a stall delays events, a gap loses them for good.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import random
import uuid

import asyncpg

from backend.eventstore import NO_STREAM, EventStore, NewEvent, RecordedEvent, StreamAppend
from backend.eventstore.db import connect
from backend.eventstore.store import GlobalReader
from backend.eventstore.types import GlobalCheckpoint

STREAM_TYPE = "global-order-test"
WRITERS = 8
ITERATIONS = 40
ROLLBACK_RATE = 0.25
STALL_LIMIT = 20.0
"""Seconds to wait for the horizon to pass the last commit (another client may hold it)."""


class Rollback(Exception):
    """Raised inside a writer's transaction to roll it back."""


def new_event() -> NewEvent:
    return NewEvent(uuid.uuid4(), "Ordered", {}, dt.datetime.now(dt.UTC))


def key(e: RecordedEvent) -> tuple[int, int]:
    return (e.tx_id, e.position)


def key_of(c: GlobalCheckpoint) -> tuple[int, int]:
    return (c.tx_id, c.position)


async def drain(
    reader: GlobalReader, checkpoint: GlobalCheckpoint, limit: int = 500
) -> tuple[list[RecordedEvent], GlobalCheckpoint]:
    """Everything readable after `checkpoint` now, and the checkpoint after it."""
    seen: list[RecordedEvent] = []
    while batch := await reader.read_after(checkpoint, limit):
        seen += batch
        checkpoint = GlobalCheckpoint(*key(batch[-1]))
    return seen, checkpoint


async def drain_until(
    reader: GlobalReader, checkpoint: GlobalCheckpoint, wanted: set[uuid.UUID]
) -> list[RecordedEvent]:
    """Drain repeatedly until every wanted event has been read (bounded by STALL_LIMIT)."""
    seen: list[RecordedEvent] = []
    for _ in range(int(STALL_LIMIT * 100)):
        batch, checkpoint = await drain(reader, checkpoint)
        seen += batch
        if wanted <= {e.event_id for e in seen}:
            break
        await asyncio.sleep(0.01)
    return seen


async def writer(
    app_dsn: str,
    store: EventStore,
    tenant: uuid.UUID,
    rng: random.Random,
    committed: list[uuid.UUID],
    rolled_back: set[uuid.UUID],
) -> None:
    """Appends to its own stream in short transactions that sleep before committing, sometimes
    in two appends (so other transactions take positions in between) and sometimes rolling back.
    """
    conn = await connect(app_dsn)
    stream, version = uuid.uuid4(), 0
    try:
        for _ in range(ITERATIONS):
            parts = [
                tuple(new_event() for _ in range(rng.randint(1, 3)))
                for _ in range(rng.choice((1, 2)))
            ]
            ids = [e.event_id for part in parts for e in part]
            try:
                async with conn.transaction():
                    at = version
                    for part in parts:
                        result = await store.append(
                            tenant, [StreamAppend(STREAM_TYPE, stream, at, part)], conn
                        )
                        at = result.version_of(stream)
                        await asyncio.sleep(rng.uniform(0, 0.005))
                    if rng.random() < ROLLBACK_RATE:
                        raise Rollback
            except Rollback:
                rolled_back.update(ids)
            else:
                committed.extend(ids)
                version = at
    finally:
        await conn.close()


async def test_a_reader_following_concurrent_writers_sees_each_commit_once_in_order(
    app_dsn: str, store: EventStore, relay_pool: asyncpg.Pool
) -> None:
    reader = GlobalReader(relay_pool)
    _, start = await drain(reader, GlobalCheckpoint())
    tenants = [uuid.uuid4() for _ in range(3)]
    committed: list[uuid.UUID] = []
    rolled_back: set[uuid.UUID] = set()
    seen: list[RecordedEvent] = []
    seen_ids: set[uuid.UUID] = set()
    writing = True

    async def follow() -> GlobalCheckpoint:
        """Follow while the writers run, then until every commit has been read: the horizon is
        cluster-wide, so another client of the cluster may hold it back a while (bounded)."""
        checkpoint, deadline = start, None
        loop = asyncio.get_running_loop()
        while True:
            batch = await reader.read_after(checkpoint, limit=50)
            if batch:
                seen.extend(batch)
                seen_ids.update(e.event_id for e in batch)
                checkpoint = GlobalCheckpoint(*key(batch[-1]))
                continue
            if not writing:
                deadline = deadline or loop.time() + STALL_LIMIT
                if seen_ids >= set(committed) or loop.time() > deadline:
                    return checkpoint
            await asyncio.sleep(0.005)

    follower = asyncio.create_task(follow())
    try:
        await asyncio.gather(
            *(
                writer(app_dsn, store, tenants[i % 3], random.Random(i), committed, rolled_back)
                for i in range(WRITERS)
            )
        )
    finally:
        writing = False
        checkpoint = await follower

    missing = set(committed) - seen_ids
    if missing:  # tell a gap (skipped behind the checkpoint) from a stall (not yet readable)
        rows = await relay_pool.fetch(
            "SELECT tx_id::text::bigint AS tx_id, position FROM events WHERE event_id = ANY($1)",
            list(missing),
        )
        behind = sum((r["tx_id"], r["position"]) < key_of(checkpoint) for r in rows)
        raise AssertionError(f"{len(missing)} committed events not read, {behind} behind it")
    ours = [e for e in seen if e.event_id in rolled_back or e.event_id in set(committed)]
    ids = [e.event_id for e in ours]
    assert len(ids) == len(set(ids)), "an event was read twice"
    assert set(ids) == set(committed), "committed events missing from the global read"
    assert not rolled_back & set(ids), "a rolled-back event was read"
    keys = [key(e) for e in seen]
    assert all(a < b for a, b in itertools.pairwise(keys)), "not in (tx_id, position)"
    # Each stream's events come in version order, without holes.
    streams: dict[uuid.UUID, list[int]] = {}
    for e in ours:
        streams.setdefault(e.stream_id, []).append(e.version)
    assert len(streams) == WRITERS
    assert all(v == list(range(1, len(v) + 1)) for v in streams.values())
    assert {e.tenant_id for e in ours} == set(tenants)
    # The run did exercise what makes this hard: commit order differed from position order (a
    # position-ordered reader would have skipped events).
    positions = [e.position for e in ours]
    assert any(a > b for a, b in itertools.pairwise(positions))
    assert rolled_back and len(committed) > WRITERS * ITERATIONS // 2


async def _two_writers(app_dsn: str) -> tuple[asyncpg.Connection, asyncpg.Connection]:
    return await connect(app_dsn), await connect(app_dsn)


async def test_a_later_commit_is_held_back_while_an_earlier_transaction_is_open(
    app_dsn: str, store: EventStore, relay_pool: asyncpg.Pool
) -> None:
    reader = GlobalReader(relay_pool)
    _, checkpoint = await drain(reader, GlobalCheckpoint())
    tenant, a, b = uuid.uuid4(), new_event(), new_event()
    conn_a, conn_b = await _two_writers(app_dsn)
    tx_a = conn_a.transaction()
    a_open = False
    try:
        await tx_a.start()
        a_open = True
        await store.append(
            tenant, [StreamAppend(STREAM_TYPE, uuid.uuid4(), NO_STREAM, (a,))], conn_a
        )
        async with conn_b.transaction():
            await store.append(
                tenant, [StreamAppend(STREAM_TYPE, uuid.uuid4(), NO_STREAM, (b,))], conn_b
            )

        # B is committed, and a position-ordered reader would take it now and move past A.
        visible = await relay_pool.fetch(
            "SELECT event_id FROM events WHERE position > $1 ORDER BY position",
            checkpoint.position,
        )
        assert [r["event_id"] for r in visible if r["event_id"] in (a.event_id, b.event_id)] == [
            b.event_id
        ]
        early, checkpoint = await drain(reader, checkpoint)
        assert not {a.event_id, b.event_id} & {e.event_id for e in early}

        await tx_a.commit()
        a_open = False
        late = await drain_until(reader, checkpoint, {a.event_id, b.event_id})
    finally:
        if a_open:  # the test failed before A committed
            await tx_a.rollback()
        await conn_a.close()
        await conn_b.close()

    ours = [e for e in late if e.event_id in (a.event_id, b.event_id)]
    assert [e.event_id for e in ours] == [a.event_id, b.event_id]
    assert ours[0].tx_id < ours[1].tx_id
    assert ours[0].position < ours[1].position


async def test_an_earlier_transaction_that_rolls_back_releases_the_later_commit(
    app_dsn: str, store: EventStore, relay_pool: asyncpg.Pool
) -> None:
    reader = GlobalReader(relay_pool)
    _, checkpoint = await drain(reader, GlobalCheckpoint())
    tenant, a, b = uuid.uuid4(), new_event(), new_event()
    conn_a, conn_b = await _two_writers(app_dsn)
    tx_a = conn_a.transaction()
    try:
        await tx_a.start()
        await store.append(
            tenant, [StreamAppend(STREAM_TYPE, uuid.uuid4(), NO_STREAM, (a,))], conn_a
        )
        await store.append(
            tenant, [StreamAppend(STREAM_TYPE, uuid.uuid4(), NO_STREAM, (b,))], conn_b
        )
        early, checkpoint = await drain(reader, checkpoint)
        assert b.event_id not in {e.event_id for e in early}

        await tx_a.rollback()
        late = await drain_until(reader, checkpoint, {b.event_id})
    finally:
        await conn_a.close()
        await conn_b.close()

    assert [e.event_id for e in late if e.event_id in (a.event_id, b.event_id)] == [b.event_id]


async def test_a_late_commit_by_another_role_is_not_skipped(
    owner_dsn: str, store: EventStore, relay_pool: asyncpg.Pool
) -> None:
    """The owner (migrations, a data fix) can insert events: its open transaction must hold the
    reader back like a runtime-role writer's, or the reader passes it and never returns it."""
    reader = GlobalReader(relay_pool)
    _, checkpoint = await drain(reader, GlobalCheckpoint())
    tenant, a, b = uuid.uuid4(), new_event(), new_event()
    owner = await connect(owner_dsn)
    tx = owner.transaction()
    try:
        await tx.start()
        await owner.execute(
            "INSERT INTO events (event_id, tenant_id, stream_type, stream_id, version,"
            " event_type, data, occurred_at) VALUES ($1, $2, $3, $4, 1, 'Ordered', '{}', now())",
            a.event_id,
            tenant,
            STREAM_TYPE,
            uuid.uuid4(),
        )
        await store.append(tenant, [StreamAppend(STREAM_TYPE, uuid.uuid4(), NO_STREAM, (b,))])
        early, checkpoint = await drain(reader, checkpoint)
        assert b.event_id not in {e.event_id for e in early}, "read past an open writer"
    finally:
        await tx.rollback()  # also keeps the owner's event out of later tests
        await owner.close()
