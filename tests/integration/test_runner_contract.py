"""The projection runners' contract: the same cases, run against the catch-up runner
(`CatchUpGroup`) and the Kafka runner (`Relay` + `KafkaProjector`), each asserting exact outcomes.

Every case uses counting projections (`Tally`): a table of their own, one row per stream of the
test's tenant holding the `n` of every event applied, in the order applied, and a counter. A
counter is only right if every event was applied exactly once, so every assertion below is an
equality with what the test wrote: nothing lost, nothing applied twice.

Cases: events delivered again change nothing; a transaction that commits late is applied once,
after all; a failing handler parks its projection alone (state, error and position in status);
resume gives it the rest once and it joins its group again; a rebuild swapped in while the runner
runs converges; a runner that dies inside a batch's transaction applies that batch once when
restarted. And, Kafka only: two projectors in one consumer group split the partitions and build
the real read models equal to a replay of the store into shadow tables.

Each test has a group of its own (and, for Kafka, a topic, a relay checkpoint and a consumer
group of its own), starting at the store's head so that it reads only what it writes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from support import new_tenant
from workload import workload

from backend.catalog import READ_MODELS as ALL
from backend.eventstore import ANY, EventStore, NewEvent, RecordedEvent, StreamAppend
from backend.eventstore.db import connect, create_pool
from backend.eventstore.migrate import read_model_security
from backend.eventstore.signal import AppendSignal
from backend.eventstore.types import GlobalCheckpoint
from backend.processes import ensure_topic
from backend.settings import with_user
from projections import kafka_runner, quarantine, tracking
from projections.catchup import CatchUpGroup
from projections.framework import Projection, TableProjection
from projections.kafka_codec import partition_of
from projections.kafka_runner import KafkaProjector
from projections.rebuild import create_shadow, rebuild
from projections.relay import Relay
from projections.tracking import ProjectionStatus

PARTITIONS = 3
STREAM_TYPE = "contract"
BATCH = 5
"""Events per batch of the catch-up group and of the relay: small, so that a case runs many
batches, transactions straddle them, and runners racing for them meet often. Projectors fetch
up to 500 records, as deployed: what a partition holds when one starts comes in one fetch."""
WAIT_SECONDS = 30.0
"""Bound of every wait for a condition; a case that passes takes a fraction of it."""
SESSION_MS = 1500
"""The projectors' consumer session timeout here (10 s as deployed). The broker holds a
consumer group's (re)join for about half of it, and forgets a member that left after it: at the
default, each projector started, restarted or added cost 5 to 18 s."""
HOLD_SECONDS = 1.0
"""How long a late transaction stays open while later ones commit (well under the runtime
role's 5 s idle limit): the catch-up group is woken by every append and the relay polls every
10 ms, so both readers look at the store many times meanwhile."""


# --- counting projections ---------------------------------------------------------------------


@dataclass
class Fault:
    """While `broken`, a Tally fails on the events marked poison."""

    broken: bool = False


@dataclass
class Gate:
    """While armed, a Tally (the one named `holds`: not a rebuild's copy of it) stops inside
    its batch's transaction, after writing its rows (or before, if so armed), until opened or
    until its runner is cancelled (a crash)."""

    holds: str | None = None
    before_rows: bool = False
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    pid: int | None = None
    """The server process of the transaction held."""

    def open(self) -> None:
        self.holds = None
        self.release.set()

    async def hold(self, conn: asyncpg.Connection) -> None:
        self.pid = conn.get_server_pid()
        # Held as long as the case needs, not the projector role's 5 s idle limit.
        await conn.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
        self.entered.set()
        await self.release.wait()

    async def entered_by(self, kind: str) -> None:
        try:
            await asyncio.wait_for(self.entered.wait(), WAIT_SECONDS)
        except TimeoutError:
            raise AssertionError(f"{kind}: no batch reached the gate") from None


@dataclass(frozen=True)
class Tally:
    """Per stream of `tenant`: the `n` of each event applied, in order, and how many were
    applied. A table projection (a rebuild can replay it into a shadow of its table)."""

    name: str
    table: str
    tenant: uuid.UUID
    fault: Fault = field(default_factory=Fault, compare=False)
    gate: Gate = field(default_factory=Gate, compare=False)

    def wants(self, stream_type: str, event_type: str) -> bool:
        return stream_type == STREAM_TYPE

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        mine = [e for e in events if e.tenant_id == self.tenant]
        if self.fault.broken and any(e.data.get("poison") for e in mine):
            msg = "cannot digest this"
            raise ValueError(msg)
        held = bool(mine) and self.gate.holds == self.name
        if held and self.gate.before_rows:
            await self.gate.hold(conn)
        await conn.executemany(
            f"INSERT INTO {self.table} (tenant_id, stream_id, applied, ns)"
            " VALUES ($1, $2, 1, ARRAY[$3::int])"
            f" ON CONFLICT (tenant_id, stream_id) DO UPDATE"
            f" SET applied = {self.table}.applied + 1, ns = {self.table}.ns || EXCLUDED.ns",
            [(e.tenant_id, e.stream_id, e.data["n"]) for e in mine],
        )
        if held and not self.gate.before_rows:
            await self.gate.hold(conn)

    def hold_next_batch(self, *, before_rows: bool = False) -> None:
        self.gate.holds, self.gate.before_rows = self.name, before_rows

    async def applied(self, pool: asyncpg.Pool) -> dict[uuid.UUID, list[int]]:
        """Stream → the n of every event applied, in order; checks the counter agrees."""
        rows = await pool.fetch(
            f"SELECT stream_id, applied, ns FROM {self.table} WHERE tenant_id = $1", self.tenant
        )
        for r in rows:
            assert r["applied"] == len(r["ns"]), f"{self.name}: counter and events disagree"
        return {r["stream_id"]: list(r["ns"]) for r in rows}


# --- writing events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    n: int
    """The event's number: the order in which the writer committed it."""
    stream: uuid.UUID


class Writer:
    """Appends `contract` events for one tenant over six streams, two on each Kafka partition,
    in transactions of up to three events (often across partitions); remembers what it wrote."""

    def __init__(self, store: EventStore, pool: asyncpg.Pool) -> None:
        self.store = store
        self.pool = pool
        self.tenant = uuid.uuid4()
        self.streams: list[uuid.UUID] = []
        while len(self.streams) < 2 * PARTITIONS:
            stream = uuid.uuid4()
            on_it = [s for s in self.streams if _partition(s) == _partition(stream)]
            if len(on_it) < 2:
                self.streams.append(stream)
        self.written: list[Written] = []

    def event(self, stream: uuid.UUID, *, poison: bool = False) -> tuple[Written, NewEvent]:
        """The next event, counted as written (the caller appends it)."""
        written = Written(len(self.written), stream)
        self.written.append(written)
        data = {"n": written.n, "poison": poison}
        return written, NewEvent(uuid.uuid4(), "Counted", data, dt.datetime.now(dt.UTC))

    async def write(self, count: int) -> None:
        left = count
        while left:
            size = min(left, 1 + len(self.written) % 3)
            first = len(self.written)
            streams = [self.streams[(first + i) % len(self.streams)] for i in range(size)]
            appends = [StreamAppend(STREAM_TYPE, s, ANY, (self.event(s)[1],)) for s in streams]
            await self.store.append(self.tenant, appends)
            left -= size

    async def poison(self) -> tuple[Written, GlobalCheckpoint]:
        """One poison event, alone in its transaction; its place in the global order."""
        written, event = self.event(self.streams[1], poison=True)
        result = await self.store.append(
            self.tenant, [StreamAppend(STREAM_TYPE, written.stream, ANY, (event,))]
        )
        return written, await self.place(result.position)

    async def fence(self) -> GlobalCheckpoint:
        """One more event; its place. A runner past it has read everything committed before."""
        written, event = self.event(self.streams[len(self.written) % len(self.streams)])
        result = await self.store.append(
            self.tenant, [StreamAppend(STREAM_TYPE, written.stream, ANY, (event,))]
        )
        return await self.place(result.position)

    async def place(self, position: int) -> GlobalCheckpoint:
        at, _ = await tracking.place_of(self.pool, position)
        assert at is not None and at.position == position
        return at

    def expected(
        self, keep: Callable[[Written], bool] = lambda _: True
    ) -> dict[uuid.UUID, list[int]]:
        """Stream → the n of every event written (that `keep` keeps), in stream order."""
        streams: dict[uuid.UUID, list[int]] = {}
        for w in self.written:
            if keep(w):
                streams.setdefault(w.stream, []).append(w.n)
        return streams


def _partition(stream: uuid.UUID) -> int:
    return partition_of(stream, PARTITIONS)


async def _until(what: str, check: Callable[[], Awaitable[str | None]]) -> None:
    """Wait until `check` returns None (it returns what is still wrong), at most WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while (wrong := await check()) is not None:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {WAIT_SECONDS} s: {wrong}")
        await asyncio.sleep(0.02)


async def _head(pool: asyncpg.Pool) -> GlobalCheckpoint:
    row = await pool.fetchrow(
        "SELECT tx_id::text::bigint AS tx_id, position FROM events"
        " ORDER BY tx_id DESC, position DESC LIMIT 1"
    )
    return GlobalCheckpoint(row["tx_id"], row["position"]) if row else GlobalCheckpoint()


# --- the two runners behind one harness -------------------------------------------------------


class Harness:
    """Runs projections the way one runner does, as asyncio tasks standing for processes."""

    kind: str
    partitions: int | None

    def __init__(self, pool: asyncpg.Pool, head: GlobalCheckpoint) -> None:
        self.pool = pool
        self.head = head
        """Where this test's runner starts: the store's head when the harness was made."""
        self.group = f"contract-{uuid.uuid4().hex[:8]}"
        self._tasks: list[tuple[asyncio.Task[None], asyncio.Event]] = []

    def _run(
        self, run: Callable[[asyncio.Event], Awaitable[None]]
    ) -> tuple[asyncio.Task[None], asyncio.Event]:
        stop = asyncio.Event()
        self._tasks.append((asyncio.ensure_future(run(stop)), stop))
        return self._tasks[-1]

    async def _stop(self, running: tuple[asyncio.Task[None], asyncio.Event]) -> None:
        """Stop one instance the orderly way (it finishes what it is doing)."""
        task, stop = running
        stop.set()
        await task
        self._tasks.remove(running)

    async def start(self, projections: Sequence[Projection]) -> None:
        """One more instance of the runner (as one more process) for `projections`."""
        raise NotImplementedError

    async def redeliver(self, writer: Writer) -> None:
        """Make the runner meet events it has already applied, as it does in production."""
        raise NotImplementedError

    async def joined(self, name: str) -> bool:
        """Whether `name` follows this runner's group again (on every partition)."""
        raise NotImplementedError

    async def crash(self) -> None:
        """Every runner instance dies where it is (tasks cancelled: transactions in flight are
        rolled back, nothing else is done)."""
        tasks = [task for task, _ in self._tasks]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        for _, stop in self._tasks:
            stop.set()
        await asyncio.gather(*(task for task, _ in self._tasks), return_exceptions=True)
        self._tasks.clear()

    def alive(self) -> None:
        for task, _ in self._tasks:
            if task.done():
                error = task.exception()
                raise AssertionError(f"a {self.kind} runner stopped: {error!r}") from error

    async def places(self) -> dict[str, GlobalCheckpoint]:
        return await tracking.least_places(self.pool, self.partitions)

    async def settle(self, writer: Writer, projections: Sequence[Projection]) -> None:
        """Write one more event and wait until every one of `projections` has applied it (and
        so everything before it)."""
        fence = await writer.fence()
        names = [p.name for p in projections]

        async def check() -> str | None:
            self.alive()
            places = await self.places()
            behind = {n: places.get(n) for n in names if places.get(n, GlobalCheckpoint()) < fence}
            return f"behind {fence}: {behind}" if behind else None

        await _until(f"{self.kind}: {names} reach the fence", check)

    async def status(self, projections: Sequence[Projection]) -> dict[str, ProjectionStatus]:
        """What ProjectionService.status reports (tracking.progress), by name."""
        names = [p.name for p in projections]
        return {s.name: s for s in await tracking.progress(self.pool, names, self.partitions)}


class CatchUp(Harness):
    """`CatchUpGroup`s with a group name of their own; each instance stands for an API process."""

    kind = "catch-up"
    partitions = None

    def __init__(self, pool: asyncpg.Pool, head: GlobalCheckpoint, signal: AppendSignal) -> None:
        super().__init__(pool, head)
        self.signal = signal
        self._projections: list[Sequence[Projection]] = []

    async def start(self, projections: Sequence[Projection]) -> None:
        names = [tracking.group_row(self.group), *(p.name for p in projections)]
        if not self._projections:  # the group and its members start at the head, together
            await tracking.ensure(self.pool, names)
            await self.pool.execute(
                "UPDATE projection_checkpoints SET tx_id = $2::text::xid8, position = $3"
                " WHERE name = ANY($1)",
                names,
                str(self.head.tx_id),
                self.head.position,
            )
        group = CatchUpGroup(
            self.pool, self.group, projections, batch_size=BATCH, signal=self.signal
        )
        await group.start()
        self._projections.append(projections)
        self._run(group.run)

    async def redeliver(self, writer: Writer) -> None:
        """One more instance of the group (three now): each reads every batch and tries to
        apply it, one succeeds, the others find the group's checkpoint moved."""
        await self.start(self._projections[-1])
        await writer.write(6)

    async def joined(self, name: str) -> bool:
        tracked = (await tracking.read(self.pool, [name]))[name]
        return tracked.follows == tracking.group_row(self.group) and tracked.running


class Kafka(Harness):
    """A relay publishing to a topic of its own and `KafkaProjector`s in a consumer group of
    their own; each projector stands for a projector process."""

    kind = "kafka"
    partitions = PARTITIONS

    def __init__(
        self,
        pool: asyncpg.Pool,
        head: GlobalCheckpoint,
        relay_pool: asyncpg.Pool,
        bootstrap: str,
        producer: AIOKafkaProducer,
        topic: str,
    ) -> None:
        super().__init__(pool, head)
        self.relay_pool = relay_pool
        self.bootstrap = bootstrap
        self.producer = producer
        self.topic = topic
        self.relay_name = f"contract-{uuid.uuid4().hex[:8]}"
        self._relay: tuple[asyncio.Task[None], asyncio.Event] | None = None
        self._projectors: list[tuple[asyncio.Task[None], asyncio.Event]] = []
        self._projections: list[Sequence[Projection]] = []
        self.projectors: list[KafkaProjector] = []

    @classmethod
    async def create(
        cls, pool: asyncpg.Pool, head: GlobalCheckpoint, relay_pool: asyncpg.Pool, bootstrap: str
    ) -> Kafka:
        topic = f"caretrail.events.contract-{uuid.uuid4().hex[:8]}"
        await ensure_topic(bootstrap, PARTITIONS, topic)
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, enable_idempotence=False, acks="all", linger_ms=2
        )
        await producer.start()
        harness = cls(pool, head, relay_pool, bootstrap, producer, topic)
        await harness._put_relay(head)
        return harness

    async def _put_relay(self, at: GlobalCheckpoint) -> None:
        """The relay's checkpoint at `at`: it publishes what follows (again)."""
        await self.relay_pool.execute(
            "INSERT INTO relay_checkpoints (name, tx_id, position) VALUES ($1, $2::text::xid8, $3)"
            " ON CONFLICT (name) DO UPDATE SET tx_id = EXCLUDED.tx_id,"
            " position = EXCLUDED.position",
            self.relay_name,
            str(at.tx_id),
            at.position,
        )

    async def _relayed(self, at: GlobalCheckpoint) -> None:
        """Wait until the relay has published everything up to `at`."""

        async def check() -> str | None:
            self.alive()
            row = await self.relay_pool.fetchrow(
                "SELECT tx_id::text::bigint AS tx_id, position FROM relay_checkpoints"
                " WHERE name = $1",
                self.relay_name,
            )
            published = GlobalCheckpoint(row["tx_id"], row["position"])
            return None if published >= at else f"relay at {published}"

        await _until(f"the relay publishes up to {at}", check)

    def _start_relay(self) -> None:
        relay = Relay(
            self.relay_pool,
            self.producer,
            partitions=PARTITIONS,
            topic=self.topic,
            name=self.relay_name,
            batch_size=BATCH,
        )
        self._relay = self._run(relay.run)

    async def start(self, projections: Sequence[Projection]) -> None:
        if self._relay is None or self._relay[0].done():
            self._start_relay()
        projector = KafkaProjector(
            self.pool,
            projections,
            self.bootstrap,
            group=self.group,
            topic=self.topic,
        )
        _quick_to_join(projector.consumer)
        self._projections.append(projections)
        self.projectors.append(projector)
        self._projectors.append(self._run(projector.run))

    async def redeliver(self, writer: Writer) -> None:
        """While the projectors are down, events are published, and published again by the
        relay put back before them (as a relay that died before its checkpoint does): the
        projectors, started again, meet each event and its copy in the same partition and
        the same fetch. And the relay is put back to where it started: everything the
        projectors applied comes again, after it."""
        projectors = len(self._projectors)
        for running in self._projectors:
            await self._stop(running)
        self._projectors.clear()
        assert self._relay is not None
        before = await writer.fence()
        await writer.write(6)
        last = await writer.fence()
        await self._relayed(last)
        for since in (before, self.head):
            await self._stop(self._relay)
            await self._put_relay(since)
            self._start_relay()
            await self._relayed(last)
        for _ in range(projectors):
            await self.start(self._projections[-1])

    async def crash(self) -> None:
        await super().crash()
        self._relay = None
        self._projectors.clear()

    async def joined(self, name: str) -> bool:
        following = await self.pool.fetchval(
            "SELECT count(*) FROM projection_partitions p JOIN projection_checkpoints c"
            " ON c.name = p.name AND c.state = 'running'"
            " WHERE p.name = $1 AND p.follows = $2",
            name,
            tracking.group_row(self.group),
        )
        return bool(following == PARTITIONS)

    async def close(self) -> None:
        await super().close()
        await self.producer.stop()


def _quick_to_join(consumer: AIOKafkaConsumer) -> None:
    """A KafkaProjector's consumer, not started yet, with a session of SESSION_MS: aiokafka
    reads these constructor settings when it starts."""
    assert consumer._session_timeout_ms == 10_000 and consumer._heartbeat_interval_ms == 3000
    consumer._session_timeout_ms = SESSION_MS
    consumer._heartbeat_interval_ms = SESSION_MS // 5


@pytest.fixture(scope="module")
async def pool(owner_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """The projector role's pool of these runners (the app's, if running, keeps its own)."""
    pool = await create_pool(with_user(owner_dsn, "caretrail_projector"), min_size=1, max_size=5)
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
async def relays(owner_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(with_user(owner_dsn, "caretrail_relay"), min_size=1, max_size=2)
    yield pool
    await pool.close()


@pytest.fixture(params=["catch-up", "kafka"])
async def runner(
    request: pytest.FixtureRequest,
    pool: asyncpg.Pool,
    relays: asyncpg.Pool,
    store: EventStore,
    tallies: Callable[[int], Awaitable[list[Tally]]],
) -> AsyncIterator[Harness]:
    """The runner under test (after `tallies`, so that it stops before their tables go)."""
    head = await _head(pool)
    harness: Harness
    if request.param == "catch-up":
        harness = CatchUp(pool, head, store.appended)
    else:
        bootstrap: str = request.getfixturevalue("kafka_bootstrap")
        harness = await Kafka.create(pool, head, relays, bootstrap)
    try:
        yield harness
    finally:
        await harness.close()


@pytest.fixture
def writer(store: EventStore, pool: asyncpg.Pool) -> Writer:
    return Writer(store, pool)


@pytest.fixture
async def tallies(
    owner_dsn: str, writer: Writer
) -> AsyncIterator[Callable[[int], Awaitable[list[Tally]]]]:
    """Makes counting projections of the writer's tenant, each with a table of its own."""
    tables: list[str] = []

    async def make(count: int) -> list[Tally]:
        owner = await connect(owner_dsn)
        made = []
        try:
            for _ in range(count):
                name = f"contract_{uuid.uuid4().hex[:8]}"
                await owner.execute(
                    f"CREATE TABLE {name} (tenant_id uuid NOT NULL, stream_id uuid NOT NULL,"
                    " applied int NOT NULL, ns int[] NOT NULL,"
                    " PRIMARY KEY (tenant_id, stream_id));" + read_model_security(name)
                )
                tables.append(name)
                made.append(Tally(name, name, writer.tenant))
        finally:
            await owner.close()
        return made

    yield make
    owner = await connect(owner_dsn)
    try:
        for table in tables:
            await owner.execute(f"DROP TABLE IF EXISTS {table}, {table}__rebuild")
        names = [*tables, *(f"{t}__rebuild" for t in tables)]
        for rows in ("projection_checkpoints", "projection_partitions"):
            await owner.execute(f"DELETE FROM {rows} WHERE name = ANY($1)", names)
    finally:
        await owner.close()


async def _exactly(
    pool: asyncpg.Pool, tally: Tally, expected: dict[uuid.UUID, list[int]], what: str
) -> None:
    applied = await tally.applied(pool)
    assert applied == expected, f"{what}: {tally.name} applied {applied}, expected {expected}"


# --- the contract -----------------------------------------------------------------------------


async def test_events_delivered_again_change_nothing(
    runner: Harness, writer: Writer, tallies: Callable[[int], Awaitable[list[Tally]]]
) -> None:
    """Catch-up: two, then three instances of one group run at once (as API processes do) and
    race for every batch. Kafka: two projectors share the consumer group; while they are down,
    the relay publishes events twice in a row (put back before them, as a relay that died
    before its checkpoint), then everything again from where it started."""
    a, b = await tallies(2)
    await runner.start([a, b])
    await runner.start([a, b])
    await writer.write(40)
    await runner.settle(writer, [a, b])
    await runner.redeliver(writer)
    await writer.write(40)
    await runner.settle(writer, [a, b])
    # Once more after everything was delivered again: any late duplicate would be in by now.
    await runner.settle(writer, [a, b])
    for tally in (a, b):
        await _exactly(runner.pool, tally, writer.expected(), "each event once")


async def test_a_transaction_that_commits_late_is_applied_once(
    runner: Harness,
    writer: Writer,
    store: EventStore,
    tallies: Callable[[int], Awaitable[list[Tally]]],
) -> None:
    """An event inserted by a transaction that stays open while later ones commit: the runner
    waits for it (it applies nothing committed after it meanwhile), then applies it once."""
    (a,) = await tallies(1)
    await runner.start([a])
    await writer.write(6)
    await runner.settle(writer, [a])
    before = writer.expected()
    late_stream = uuid.uuid4()  # a stream of its own: the others keep committing meanwhile
    async with store.transaction(writer.tenant) as conn:
        written, event = writer.event(late_stream)
        await store.append(
            writer.tenant, [StreamAppend(STREAM_TYPE, late_stream, ANY, (event,))], conn=conn
        )
        await writer.write(9)  # commit, each in its own transaction, after the late one began
        deadline = time.monotonic() + HOLD_SECONDS
        while time.monotonic() < deadline:
            runner.alive()
            applied = await a.applied(runner.pool)
            assert applied == before, "events that committed after an open one were applied"
            await asyncio.sleep(0.05)
    await runner.settle(writer, [a])
    await _exactly(runner.pool, a, writer.expected(), "the late event once, the others once")
    assert (await a.applied(runner.pool))[late_stream] == [written.n]


async def _park(
    runner: Harness, writer: Writer, tallies: Callable[[int], Awaitable[list[Tally]]]
) -> tuple[Tally, Tally, Tally, Written, GlobalCheckpoint]:
    """Three projections run together; `fragile` fails on a poison event after 12 good ones,
    and 12 more follow. Returns once the healthy two have applied every event."""
    fragile, b, c = await tallies(3)
    fragile.fault.broken = True
    await runner.start([fragile, b, c])
    await writer.write(12)
    poison, at = await writer.poison()
    await writer.write(12)
    await runner.settle(writer, [b, c])
    return fragile, b, c, poison, at


def _before_poison(runner: Harness, poison: Written) -> Callable[[Written], bool]:
    """What a parked projection keeps: every event before the poison in the global order, and,
    fed from Kafka (which parks a projection per partition, its other partitions carrying on),
    every event of the other partitions too."""
    if runner.partitions is None:
        return lambda w: w.n < poison.n
    return lambda w: w.n < poison.n or _partition(w.stream) != _partition(poison.stream)


async def test_a_failing_handler_parks_its_projection_alone(
    runner: Harness, writer: Writer, tallies: Callable[[int], Awaitable[list[Tally]]]
) -> None:
    fragile, b, c, poison, poison_at = await _park(runner, writer, tallies)
    for healthy in (b, c):
        await _exactly(runner.pool, healthy, writer.expected(), "the others carry every event")
    kept = _before_poison(runner, poison)
    await _exactly(runner.pool, fragile, writer.expected(kept), "parked at the poison")

    status = await runner.status([fragile, b, c])
    parked = status[fragile.name]
    assert parked.state == "parked"
    assert parked.last_error == "ValueError: cannot digest this"
    assert parked.error_position == poison_at.position
    assert parked.lag_events > 0
    # Its place: past the event before the poison in its stream, short of the poison.
    place = (await runner.places())[fragile.name]
    previous = max(w.n for w in writer.written if w.stream == poison.stream and w.n < poison.n)
    previous_at = await writer.place(
        await runner.pool.fetchval(
            "SELECT position FROM events WHERE tenant_id = $1 AND (data->>'n')::int = $2",
            writer.tenant,
            previous,
        )
    )
    assert previous_at <= place < poison_at
    assert parked.position == place.position
    for healthy in (b, c):
        assert status[healthy.name].state == "running"
        assert status[healthy.name].last_error is None
    # Parked means parked: no retry loop, no skipping, while the others carry on.
    await writer.write(6)
    await runner.settle(writer, [b, c])
    await _exactly(runner.pool, fragile, writer.expected(kept), "still parked at the poison")
    assert (await runner.status([fragile]))[fragile.name].state == "parked"


async def test_resume_gives_the_rest_once_and_rejoins_the_group(
    runner: Harness, writer: Writer, tallies: Callable[[int], Awaitable[list[Tally]]]
) -> None:
    fragile, b, c, _, _ = await _park(runner, writer, tallies)
    assert not await runner.joined(fragile.name)
    fragile.fault.broken = False  # the cause fixed (a deploy), then the operator resumes it
    assert await tracking.resume(runner.pool, fragile.name)
    await writer.write(12)
    await runner.settle(writer, [fragile, b, c])

    async def rejoined() -> str | None:
        runner.alive()
        return None if await runner.joined(fragile.name) else "detached"

    await _until(f"{runner.kind}: {fragile.name} joins its group again", rejoined)
    await writer.write(6)  # and, attached again, follows the group
    await runner.settle(writer, [fragile, b, c])
    for tally in (fragile, b, c):
        await _exactly(runner.pool, tally, writer.expected(), "every event once")
    status = (await runner.status([fragile]))[fragile.name]
    assert status.state == "running" and status.last_error is None
    assert status.error_position is None


async def test_a_quarantined_event_is_skipped_for_its_projection_alone(
    runner: Harness, writer: Writer, tallies: Callable[[int], Awaitable[list[Tally]]]
) -> None:
    """The poison stays poison (the handler is not fixed): the operator quarantines it for the
    parked projection, which resumes and gets every other event once; the others keep theirs.
    The quarantine is recorded with who and why and stays listed."""
    fragile, b, c, poison, poison_at = await _park(runner, writer, tallies)
    done = await quarantine.quarantine(
        runner.pool, fragile.name, poison_at.position, "malformed import", "ops-oncall"
    )
    assert done.resumed and done.event_type == "Counted"
    await writer.write(12)
    await runner.settle(writer, [fragile, b, c])
    await _exactly(
        runner.pool, fragile, writer.expected(lambda w: w.n != poison.n), "all but the poison"
    )
    for healthy in (b, c):
        await _exactly(runner.pool, healthy, writer.expected(), "every event, the poison too")
    status = (await runner.status([fragile]))[fragile.name]
    assert status.state == "running" and status.last_error is None
    (listed,) = (await quarantine.listed(runner.pool, [fragile.name]))[fragile.name]
    assert (listed["position"], listed["reason"], listed["quarantined_by"]) == (
        poison_at.position,
        "malformed import",
        "ops-oncall",
    )


async def test_a_rebuild_swapped_in_while_the_runner_runs_converges(
    runner: Harness,
    writer: Writer,
    tallies: Callable[[int], Awaitable[list[Tally]]],
    owner_dsn: str,
) -> None:
    """`rebuild` replays the store into a shadow of one member's table and swaps it in while
    the runner runs and events keep coming, then more; afterwards the member catches up alone
    from the rebuild's checkpoint, joins its group again, and holds every event once."""
    rebuilt, other = await tallies(2)
    await runner.start([rebuilt, other])
    await writer.write(20)
    await runner.settle(writer, [rebuilt, other])
    replayed, _ = await asyncio.gather(_rebuild(owner_dsn, rebuilt), writer.write(30))
    assert replayed > 0
    await writer.write(20)
    await _converged(runner, writer, rebuilt, other)


async def test_a_rebuild_swapped_in_while_a_batch_applies_to_it_converges(
    runner: Harness,
    writer: Writer,
    tallies: Callable[[int], Awaitable[list[Tally]]],
    owner_dsn: str,
) -> None:
    """The swap meets a batch of the runner that is applying to the member (holding its place,
    its rows not written yet), with events committed behind it that the rebuild has read: the
    swap waits for the batch, the batch completes, and the member then goes on from the
    rebuild's checkpoint, ahead of its group's."""
    rebuilt, other = await tallies(2)
    await runner.start([rebuilt, other])
    await writer.write(20)
    await runner.settle(writer, [rebuilt, other])
    rebuilt.hold_next_batch(before_rows=True)
    await writer.write(5)
    await rebuilt.gate.entered_by(runner.kind)
    await writer.write(10)
    swapping = asyncio.create_task(_rebuild(owner_dsn, rebuilt))

    async def swap_waits() -> str | None:
        if swapping.done():
            msg = f"the rebuild ended without waiting for the batch: {swapping.result()}"
            raise AssertionError(msg)
        waiting = await runner.pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
            rebuilt.gate.pid,
        )
        return None if waiting else "nothing waits for the batch"

    try:
        await _until(f"{runner.kind}: the swap waits for the batch", swap_waits)
    finally:
        rebuilt.gate.open()
        if not swapping.done():
            await asyncio.wait([swapping], timeout=WAIT_SECONDS)
    assert swapping.done(), f"{runner.kind}: the swap never ended"
    assert swapping.result() > 0
    await writer.write(20)
    await _converged(runner, writer, rebuilt, other)


async def _rebuild(owner_dsn: str, projection: Tally) -> int:
    projector_dsn = with_user(owner_dsn, "caretrail_projector")
    return await rebuild(owner_dsn, projector_dsn, projection, lambda *_: None, batch_size=500)


async def _converged(runner: Harness, writer: Writer, rebuilt: Tally, other: Tally) -> None:
    """Both hold every event once, the rebuilt one joins its group again and follows it."""
    await runner.settle(writer, [rebuilt, other])
    for tally in (rebuilt, other):
        await _exactly(runner.pool, tally, writer.expected(), "every event once")

    async def rejoined() -> str | None:
        runner.alive()
        return None if await runner.joined(rebuilt.name) else "detached"

    await _until(f"{runner.kind}: the rebuilt {rebuilt.name} joins its group again", rejoined)
    await writer.write(6)
    await runner.settle(writer, [rebuilt, other])
    for tally in (rebuilt, other):
        await _exactly(runner.pool, tally, writer.expected(), "every event once, rejoined")


async def test_a_runner_killed_inside_a_batch_applies_it_once_after_restart(
    runner: Harness, writer: Writer, tallies: Callable[[int], Awaitable[list[Tally]]]
) -> None:
    """The runner dies while a batch is applied (its rows written) but before its transaction
    commits; restarted, it applies that batch once."""
    a, gated = await tallies(2)
    await runner.start([a, gated])
    await writer.write(10)
    await runner.settle(writer, [a, gated])
    gated.hold_next_batch()
    await writer.write(10)
    await gated.gate.entered_by(runner.kind)
    await runner.crash()
    gated.gate.holds = None
    await runner.start([a, gated])
    await writer.write(10)
    await runner.settle(writer, [a, gated])
    for tally in (a, gated):
        await _exactly(runner.pool, tally, writer.expected(), "the interrupted batch once")


# --- Kafka: two projector processes in one consumer group --------------------------------------


async def test_two_projectors_in_one_consumer_group_build_what_a_replay_builds(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    relays: asyncpg.Pool,
    owner_dsn: str,
    kafka_bootstrap: str,
) -> None:
    """Every real read model, fed from Kafka by two projectors in one consumer group (as two
    `caretrail project` processes, the second started while commands arrive, so partitions
    move to it mid-stream): they split the partitions, and together build tables equal, row
    for row, to a replay of the whole store from zero into shadow tables (what a rebuild does,
    here for every copy in one reading of the store)."""
    suffix = uuid.uuid4().hex[:6]
    head = await _head(pool)
    owner = await connect(owner_dsn)
    fed: list[TableProjection] = []
    replayed: list[TableProjection] = []
    try:
        for projection in ALL:
            for copies, tag in ((fed, "k"), (replayed, "r")):
                copy = dataclasses.replace(
                    projection,  # type: ignore[type-var]
                    name=f"{projection.name}__{tag}{suffix}",
                    table=f"{projection.table}__{tag}{suffix}",
                )
                await create_shadow(owner, projection.table, copy.table)
                copies.append(copy)
    finally:
        await owner.close()
    kafka = await Kafka.create(pool, head, relays, kafka_bootstrap)
    # From zero, in one catch-up group: a rebuild of every copy at once, which then follows.
    replay = CatchUpGroup(pool, f"replay-{suffix}", replayed, batch_size=500)
    stop_replay = asyncio.Event()
    replaying = asyncio.create_task(replay.run(stop_replay))
    writing: asyncio.Task[int] | None = None
    try:

        async def split(projectors: int) -> str | None:
            kafka.alive()
            owned = [{tp.partition for tp in p.consumer.assignment()} for p in kafka.projectors]
            whole = set().union(*owned) == set(range(PARTITIONS))
            disjoint = sum(map(len, owned)) == PARTITIONS
            ok = len(owned) == projectors and all(owned) and whole and disjoint
            return None if ok else f"assignments {owned}"

        await kafka.start(fed)
        await _until("one projector takes every partition", lambda: split(1))
        tenants = [await new_tenant(client) for _ in range(3)]
        writing = asyncio.create_task(workload(client, tenants))
        await kafka.start(fed)
        await _until("two projectors split the partitions", lambda: split(2))
        await writing
        await _until_equal(pool, kafka, fed, replayed, [t.id for t in tenants])
        await _until("two projectors still split the partitions", lambda: split(2))
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
        await kafka.close()
        stop_replay.set()
        await replaying
        owner = await connect(owner_dsn)
        try:
            for copy in (*fed, *replayed):
                await owner.execute(f"DROP TABLE IF EXISTS {copy.table}")
        finally:
            await owner.close()


async def _until_equal(
    pool: asyncpg.Pool,
    kafka: Kafka,
    fed: list[TableProjection],
    replayed: list[TableProjection],
    tenants: list[uuid.UUID],
) -> None:
    """Wait until every Kafka-fed table equals its replayed copy (on `tenants`' rows), all of
    them in one pass."""

    async def check() -> str | None:
        kafka.alive()
        for one, other in zip(fed, replayed, strict=True):
            expected = await _rows(pool, other.table, tenants)
            if not expected or await _rows(pool, one.table, tenants) != expected:
                return f"{one.table} differs from {other.table}"
        return None

    await _until("Kafka-fed tables equal the replayed ones", check)


async def _rows(pool: asyncpg.Pool, table: str, tenants: list[uuid.UUID]) -> list[asyncpg.Record]:
    # Every read-model table's key is (tenant_id, its second column).
    rows: list[asyncpg.Record] = await pool.fetch(
        f"SELECT * FROM {table} WHERE tenant_id = ANY($1) ORDER BY 1, 2", tenants
    )
    return rows


async def test_a_kafka_batch_that_starts_past_its_group_is_not_applied_over_the_gap(
    pool: asyncpg.Pool,
    relays: asyncpg.Pool,
    kafka_bootstrap: str,
    writer: Writer,
    tallies: Callable[[int], Awaitable[list[Tally]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch read but not applied (its partition's group row moved under it, as when two
    projectors' rebalances overlap) leaves the consumer past the group's place. The next batch
    on that partition, a progress marker at the latest, must not move the group over the
    records in between: the partition is read again from the group's place. The projector's
    periodic seek-back is held off, so only the batch path can close the gap. Every fetch
    goes partition by partition (as it does when a member catches up alone somewhere): the
    path that reads a partition's rows before it locks them; a fetch applied together reads
    them under its locks and defers to it when it finds the consumer ahead of the group."""
    real_apply = KafkaProjector._apply

    async def apart(projector: KafkaProjector, read: object) -> None:
        raise kafka_runner._Apart

    armed, moved = False, list[int]()

    async def read_before_a_move(
        projector: KafkaProjector,
        partition: int,
        rows: dict[str, tracking.PartitionTracked],
        members: list[str],
        read: list[Any],
        *,
        isolate: bool,
    ) -> None:
        """The first armed batch holding an event not yet applied sees the group row as it was
        before another process moved it: the real lock check finds it moved, applies nothing."""
        group = rows[projector.group_row]
        if armed and not moved and any(not r.marker and r.offset > group.offset for r in read):
            moved.append(partition)
            rows = {
                **rows,
                projector.group_row: dataclasses.replace(group, offset=group.offset - 1),
            }
        await real_apply(projector, partition, rows, members, read, isolate=isolate)

    monkeypatch.setattr(KafkaProjector, "_apply_together", apart)
    monkeypatch.setattr(KafkaProjector, "_apply", read_before_a_move)
    monkeypatch.setattr("projections.kafka_runner.CONTROL_INTERVAL_SECONDS", 3600.0)
    runner = await Kafka.create(pool, await _head(pool), relays, kafka_bootstrap)
    try:
        (tally,) = await tallies(1)
        await runner.start([tally])
        await writer.write(12)
        await runner.settle(writer, [tally])
        armed = True
        await writer.write(12)
        await runner.settle(writer, [tally])
        assert moved, "no batch was refused as moved: the case did not happen"
        await _exactly(pool, tally, writer.expected(), "every event once, across the gap")
    finally:
        await runner.close()
