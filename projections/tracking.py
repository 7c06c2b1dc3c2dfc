"""Where every projection, reaction and relay is in the store's global order: the only module
that reads or writes checkpoints.

A projection has a row in `projection_checkpoints`: its state (running or parked, with the error
and the event it failed on) and its own checkpoint `(tx_id, position)`. Projections that a
process runs together form a *group*, which has a row of its own (named `group:<name>`). A
projection whose row `follows` its group is attached: the group's checkpoint speaks for it, so
a batch it wants nothing of costs it no write at all, and one transaction moves every attached
projection at once. Its effective checkpoint is the later of its own and its group's (its own
is later only when it joined the group ahead of it).

A projection is detached when it parks, when a rebuild swaps its table in, or when it is new:
it then follows the store alone from its own checkpoint, and joins its group again once it has
caught up with it (`CatchUpGroup`). The view `projection_progress` (migration 0012) gives every
row's effective checkpoint: what read-your-writes waits on and what status reports.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from backend.eventstore import RecordedEvent
from backend.eventstore.types import GlobalCheckpoint
from backend.observability import trace_id_of
from projections.liveness import STALLED_SECONDS

log = structlog.get_logger("caretrail.projections")
GROUP_PREFIX = "group:"


def group_row(group: str) -> str:
    return GROUP_PREFIX + group


@dataclass(frozen=True)
class Tracked:
    """A projection's (or group's) row: its own checkpoint, state and group."""

    name: str
    own: GlobalCheckpoint
    state: str
    follows: str | None

    @property
    def running(self) -> bool:
        return self.state == "running"


def _at(row: asyncpg.Record) -> GlobalCheckpoint:
    return GlobalCheckpoint(row["tx_id"], row["position"])


def after(event: RecordedEvent, checkpoint: GlobalCheckpoint) -> bool:
    """Whether `event` comes after `checkpoint` in the global order."""
    return (event.tx_id, event.position) > (checkpoint.tx_id, checkpoint.position)


def place(event: RecordedEvent) -> GlobalCheckpoint:
    return GlobalCheckpoint(event.tx_id, event.position)


async def ensure(pool: asyncpg.Pool, names: Sequence[str]) -> None:
    """Rows for projections (and groups) that have none yet: detached, at the beginning."""
    await pool.execute(
        "INSERT INTO projection_checkpoints (name) SELECT unnest($1::text[])"
        " ON CONFLICT DO NOTHING",
        list(names),
    )


async def read(pool: asyncpg.Pool | asyncpg.Connection, names: Sequence[str]) -> dict[str, Tracked]:
    rows = await pool.fetch(
        "SELECT name, tx_id::text::bigint AS tx_id, position, state, follows"
        " FROM projection_checkpoints WHERE name = ANY($1)",
        list(names),
    )
    return {r["name"]: Tracked(r["name"], _at(r), r["state"], r["follows"]) for r in rows}


_MOVE_BATCH = """
WITH grp AS (
    UPDATE projection_checkpoints SET tx_id = $3::text::xid8, position = $4, updated_at = now()
    WHERE name = (
        SELECT name FROM projection_checkpoints
        WHERE name = $1 AND tx_id = $5::text::xid8 AND position = $6 FOR UPDATE SKIP LOCKED
    )
    RETURNING name
), members AS MATERIALIZED (
    SELECT name, follows FROM projection_checkpoints
    WHERE name = ANY($2) AND state = 'running' AND (follows = $1 OR follows IS NULL)
    AND EXISTS (SELECT FROM grp) FOR UPDATE
)
SELECT m.name, m.follows,
       CASE WHEN $7::boolean THEN NULL ELSE set_config('synchronous_commit', 'off', true) END
FROM grp g LEFT JOIN members m ON true
"""


async def move_batch(
    conn: asyncpg.Connection,
    group: str,
    since: GlobalCheckpoint,
    to: GlobalCheckpoint,
    names: Sequence[str],
    *,
    durable: bool = True,
) -> tuple[set[str], set[str]] | None:
    """At the start of a group's batch, in one statement (one round trip; the batch used to
    take three: lock the group, lock the members, move the group): the group's checkpoint
    moved from `since` to `to`, and the members the batch applies to or attaches locked, of
    them those attached to the group and those detached and running, as they are now. None
    when another process holds the group's row (it is applying the group's next batch) or
    has moved it from `since`: then nothing is locked or moved.

    The group's row is locked first (FOR UPDATE SKIP LOCKED, only where it is at `since`),
    the members only once it is held (a one-time filter on it), so that a rebuild, an operator
    or another instance of the group cannot change them under the batch. (Another instance
    may have attached a member since this one read the rows: the batch then applies to it as
    an attached member; one detached meanwhile is left alone.) The move is seen by others only
    when the batch commits, with what the batch wrote. Not `durable`: the transaction commits
    without waiting for its WAL to reach the disk (`synchronous_commit = off` for it alone),
    see CatchUpGroup."""
    rows = await conn.fetch(
        _MOVE_BATCH,
        group_row(group),
        list(names),
        str(to.tx_id),
        to.position,
        str(since.tx_id),
        since.position,
        durable,
    )
    if not rows:
        return None
    members = [r for r in rows if r["name"] is not None]
    attached = {r["name"] for r in members if r["follows"] is not None}
    return attached, {r["name"] for r in members} - attached


async def attach(conn: asyncpg.Connection, group: str, joined: Sequence[str]) -> None:
    """Attach `joined` (locked by `move_batch`) to the group: its checkpoint speaks for them."""
    await conn.execute(
        "UPDATE projection_checkpoints SET follows = $2, updated_at = now() WHERE name = ANY($1)",
        list(joined),
        group_row(group),
    )


async def lock_alone(conn: asyncpg.Connection, name: str) -> GlobalCheckpoint | None:
    """A detached, running projection's own checkpoint, locked; None when it is attached to a
    group or parked (then nothing may be applied to it alone)."""
    row = await conn.fetchrow(
        "SELECT tx_id::text::bigint AS tx_id, position FROM projection_checkpoints"
        " WHERE name = $1 AND follows IS NULL AND state = 'running' FOR UPDATE",
        name,
    )
    return _at(row) if row is not None else None


async def move_alone(conn: asyncpg.Connection, name: str, at: GlobalCheckpoint) -> None:
    await conn.execute(
        "UPDATE projection_checkpoints SET tx_id = $2::text::xid8, position = $3,"
        " updated_at = now() WHERE name = $1",
        name,
        str(at.tx_id),
        at.position,
    )


async def park(
    conn: asyncpg.Connection | asyncpg.Pool,
    name: str,
    applied: GlobalCheckpoint | None,
    event: RecordedEvent,
    error: Exception,
) -> None:
    """Stop a projection at the event its handler failed on: detached from its group, its own
    checkpoint at the last event it applied (None: where it is, for a Kafka-fed projection,
    whose progress is per partition), the error shown in status."""
    detail = f"{type(error).__name__}: {error}"
    await conn.execute(
        "UPDATE projection_checkpoints SET state = 'parked', follows = NULL,"
        " tx_id = coalesce($2::text::xid8, tx_id), position = coalesce($3, position),"
        " last_error = $4, error_position = $5, updated_at = now() WHERE name = $1",
        name,
        str(applied.tx_id) if applied else None,
        applied.position if applied else None,
        detail,
        event.position,
    )
    log.error(
        "projection_parked",
        request_id=event.metadata.get("request_id"),
        trace_id=trace_id_of(event.metadata.get("traceparent")),
        projection=name,
        position=event.position,
        event_type=event.event_type,
        error=detail,
    )


async def resume(pool: asyncpg.Pool, name: str) -> bool:
    """Un-park a projection: it retries the event it stopped at, alone (fed from Kafka: on
    each partition it parked on), and joins its group again once caught up. False if no such
    projection."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            f"{_IN_ORDER} UPDATE projection_partitions p SET parked = false, updated_at = now()"
            " FROM locked l WHERE p.name = $1 AND p.partition = l.partition AND p.parked",
            name,
        )
        result: str = await conn.execute(
            "UPDATE projection_checkpoints SET state = 'running', last_error = NULL,"
            " error_position = NULL, updated_at = now() WHERE name = $1",
            name,
        )
    return result.endswith(" 1")


async def detach_at(conn: asyncpg.Connection, name: str, at: GlobalCheckpoint) -> None:
    """Put a projection at `at`, detached and running (a rebuilt table was swapped in)."""
    await conn.execute(
        "INSERT INTO projection_checkpoints (name, tx_id, position)"
        " VALUES ($1, $2::text::xid8, $3)"
        " ON CONFLICT (name) DO UPDATE SET tx_id = EXCLUDED.tx_id, position = EXCLUDED.position,"
        " follows = NULL, state = 'running', last_error = NULL, error_position = NULL,"
        " updated_at = now()",
        name,
        str(at.tx_id),
        at.position,
    )


async def forget(conn: asyncpg.Connection, name: str) -> None:
    await conn.execute("DELETE FROM projection_checkpoints WHERE name = $1", name)


PROGRESS_SQL = """
        SELECT c.name, c.state, c.last_error, c.error_position, p.position,
               greatest(h.head - p.position, 0) AS lag_events,
               (SELECT e.recorded_at FROM events e
                 WHERE (e.tx_id, e.position) > (p.tx_id::text::xid8, p.position)
                 ORDER BY e.tx_id, e.position LIMIT 1) AS oldest_pending
          FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS p(name, tx_id, position)
          JOIN projection_checkpoints c ON c.name = p.name,
               (SELECT coalesce(max(position), 0) AS head FROM events) AS h
         ORDER BY c.name
        """
"""Each projection's state and lag from its effective place ($1 names, $2 tx ids, $3
positions): an index probe on `events` each, whatever the store's size (checked by
tests/integration/test_status_cost.py)."""


@dataclass(frozen=True)
class ProjectionStatus:
    """A projection's effective place, state and lag, as status reports it."""

    name: str
    state: str
    position: int
    last_error: str | None
    error_position: int | None
    lag_events: int
    lag_seconds: float
    quarantined: tuple[dict[str, Any], ...] = ()
    """Events quarantined for it, oldest first (projections/quarantine.py)."""

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "quarantined": list(self.quarantined)}


async def progress(
    pool: asyncpg.Pool, names: Sequence[str], partitions: int | None
) -> list[ProjectionStatus]:
    """Position, state and lag of each projection, from what its runners record in either mode
    (`partitions`: the Kafka partition count, None for catch-up). Lag is measured on the store:
    in events, the head position less the effective place's; in seconds, the age of the first
    event past that place in the global order (an index probe each, whatever the store's
    size)."""
    places = await least_places(pool, partitions)
    rows = await pool.fetch(
        PROGRESS_SQL,
        list(names),
        [places.get(n, GlobalCheckpoint()).tx_id for n in names],
        [places.get(n, GlobalCheckpoint()).position for n in names],
    )
    now = dt.datetime.now(dt.UTC)
    return [
        ProjectionStatus(
            name=r["name"],
            state=r["state"],
            position=r["position"],
            last_error=r["last_error"],
            error_position=r["error_position"],
            lag_events=r["lag_events"],
            lag_seconds=(now - r["oldest_pending"]).total_seconds() if r["oldest_pending"] else 0.0,
        )
        for r in rows
    ]


@dataclass(frozen=True)
class RelayStatus:
    """A relay's place in the global order, how far behind the store's head it is, and whether
    it is alive (its heartbeat, projections/liveness.py)."""

    name: str
    state: str
    position: int
    lag_events: int
    lag_seconds: float
    seen_seconds_ago: float | None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


RELAYS_SQL = """
        SELECT r.name, r.position, greatest(h.head - r.position, 0) AS lag_events,
               (SELECT e.recorded_at FROM events e
                 WHERE (e.tx_id, e.position) > (r.tx_id, r.position)
                 ORDER BY e.tx_id, e.position LIMIT 1) AS oldest_pending,
               extract(epoch FROM now() - l.seen_at)::float8 AS seen
          FROM relay_checkpoints r
          LEFT JOIN runner_liveness l ON l.kind = 'relay' AND l.name = r.name,
               (SELECT coalesce(max(position), 0) AS head FROM events) AS h
         ORDER BY r.name
        """


async def relays(pool: asyncpg.Pool) -> list[RelayStatus]:
    """Every relay that has run: lag measured like a projection's (an index probe each)."""
    rows = await pool.fetch(RELAYS_SQL)
    now = dt.datetime.now(dt.UTC)
    return [
        RelayStatus(
            name=r["name"],
            state=_relay_state(r["seen"]),
            position=r["position"],
            lag_events=r["lag_events"],
            lag_seconds=(now - r["oldest_pending"]).total_seconds() if r["oldest_pending"] else 0.0,
            seen_seconds_ago=round(max(r["seen"], 0.0), 3) if r["seen"] is not None else None,
        )
        for r in rows
    ]


async def relay_checkpoint(pool: asyncpg.Pool, name: str) -> GlobalCheckpoint:
    """How far the relay `name` has published the global order (the beginning on a first run)."""
    row = await pool.fetchrow(
        "SELECT tx_id::text::bigint AS tx_id, position FROM relay_checkpoints WHERE name = $1",
        name,
    )
    if row is None:
        await pool.execute(
            "INSERT INTO relay_checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING", name
        )
        return GlobalCheckpoint()
    return _at(row)


async def move_relay(
    pool: asyncpg.Pool, name: str, at: GlobalCheckpoint, *, durable: bool = True
) -> None:
    """Not `durable`: the statement's transaction commits without waiting for the WAL flush."""
    await pool.execute(
        "UPDATE relay_checkpoints SET tx_id = $2::text::xid8, position = $3, updated_at = now()"
        " WHERE name = $1 AND CASE WHEN $4::boolean THEN true"
        "  ELSE set_config('synchronous_commit', 'off', true) = 'off' END",
        name,
        str(at.tx_id),
        at.position,
        durable,
    )


def _relay_state(seen_seconds_ago: float | None) -> str:
    alive = seen_seconds_ago is not None and seen_seconds_ago <= STALLED_SECONDS
    return "running" if alive else "stalled"


# Kafka-fed projections progress per partition, in `projection_partitions`: the same scheme, a
# group row per partition (`group:<name>`) and a row per member that follows it or not. Besides
# the place in the global order, a row records the Kafka offset of the last record it covers
# (-1: none; a detached member at -1 reads its partition from the beginning). Parking and
# re-reading are per partition: a member parked on one partition (`parked` on that row) still
# follows the others, attached or catching up alone; the projection's state says parked.


_IN_ORDER = (
    "WITH locked AS MATERIALIZED (SELECT partition FROM projection_partitions"
    " WHERE name = $1 ORDER BY partition FOR UPDATE)"
)
"""A projection's rows on every partition locked in partition order, before a statement
updates them: an UPDATE alone locks them in the order its plan meets them, and a projector
holding some of them (lock_partitions) while waiting for others made a deadlock with a
rebuild's swap."""


@dataclass(frozen=True)
class PartitionTracked:
    name: str
    offset: int
    own: GlobalCheckpoint
    follows: str | None
    running: bool
    """Not parked on this partition: a detached member catches up here only while running."""


async def ensure_partitions(pool: asyncpg.Pool, names: Sequence[str], partition: int) -> None:
    await pool.execute(
        "INSERT INTO projection_partitions (name, partition, kafka_offset, tx_id, position)"
        " SELECT unnest($1::text[]), $2, -1, '0', 0 ON CONFLICT DO NOTHING",
        list(names),
        partition,
    )


async def read_partition(
    pool: asyncpg.Pool | asyncpg.Connection, names: Sequence[str], partition: int
) -> dict[str, PartitionTracked]:
    return (await read_partitions(pool, names, [partition])).get(partition, {})


async def read_partitions(
    pool: asyncpg.Pool | asyncpg.Connection, names: Sequence[str], partitions: Sequence[int]
) -> dict[int, dict[str, PartitionTracked]]:
    rows = await pool.fetch(
        "SELECT name, partition, kafka_offset, tx_id::text::bigint AS tx_id, position, follows,"
        " NOT parked AS running"
        " FROM projection_partitions WHERE name = ANY($1) AND partition = ANY($2)",
        list(names),
        list(partitions),
    )
    return _by_partition(rows)


def _by_partition(rows: Sequence[asyncpg.Record]) -> dict[int, dict[str, PartitionTracked]]:
    tracked: dict[int, dict[str, PartitionTracked]] = {}
    for r in rows:
        tracked.setdefault(r["partition"], {})[r["name"]] = PartitionTracked(
            r["name"], r["kafka_offset"], _at(r), r["follows"], r["running"]
        )
    return tracked


async def lock_group_partition(
    conn: asyncpg.Connection, group: str, partition: int
) -> tuple[int, GlobalCheckpoint] | None:
    row = await conn.fetchrow(
        "SELECT kafka_offset, tx_id::text::bigint AS tx_id, position FROM projection_partitions"
        " WHERE name = $1 AND partition = $2 FOR UPDATE SKIP LOCKED",
        group_row(group),
        partition,
    )
    return (row["kafka_offset"], _at(row)) if row is not None else None


async def lock_partition_members(
    conn: asyncpg.Connection,
    group: str,
    partition: int,
    attached: Sequence[str],
    alone: Sequence[str],
) -> tuple[set[str], set[str]]:
    """Of `attached`, those still attached on this partition (locked shared); of `alone`, those
    still detached and not parked here (locked for the update of their own row)."""
    still_attached: set[str] = set()
    still_alone: set[str] = set()
    if attached:
        rows = await conn.fetch(
            "SELECT name FROM projection_partitions WHERE name = ANY($1) AND partition = $2"
            " AND follows = $3 FOR SHARE",
            list(attached),
            partition,
            group_row(group),
        )
        still_attached = {r["name"] for r in rows}
    if alone:
        rows = await conn.fetch(
            "SELECT name FROM projection_partitions WHERE name = ANY($1) AND partition = $2"
            " AND follows IS NULL AND NOT parked FOR UPDATE",
            list(alone),
            partition,
        )
        still_alone = {r["name"] for r in rows}
    return still_attached, still_alone


_LOCK_PARTITIONS = """
WITH grp AS MATERIALIZED (
    SELECT name, partition, kafka_offset, tx_id, position, follows, parked
    FROM projection_partitions WHERE name = $1 AND partition = ANY($2)
    ORDER BY partition FOR UPDATE SKIP LOCKED
), moved AS (
    UPDATE projection_partitions p SET kafka_offset = m.kafka_offset,
        tx_id = CASE WHEN (g.tx_id, g.position) >= (m.tx_id::xid8, m.position)
                THEN g.tx_id ELSE m.tx_id::xid8 END,
        position = CASE WHEN (g.tx_id, g.position) >= (m.tx_id::xid8, m.position)
                   THEN g.position ELSE m.position END,
        updated_at = now()
    FROM grp g JOIN unnest($2::int[], $5::bigint[], $6::text[], $7::bigint[])
        AS m(partition, kafka_offset, tx_id, position) ON m.partition = g.partition
    WHERE p.name = $1 AND p.partition = g.partition AND m.kafka_offset > g.kafka_offset
), members AS MATERIALIZED (
    SELECT name, partition, kafka_offset, tx_id, position, follows, parked
    FROM projection_partitions
    WHERE name = ANY($3) AND partition IN (SELECT partition FROM grp)
    ORDER BY name, partition FOR SHARE
)
SELECT name, partition, kafka_offset, tx_id::text::bigint AS tx_id, position, follows,
       NOT parked AS running,
       CASE WHEN $4::boolean THEN NULL ELSE set_config('synchronous_commit', 'off', true) END
FROM (SELECT * FROM grp UNION ALL SELECT * FROM members) AS tracked
"""


async def lock_partitions(
    conn: asyncpg.Connection,
    group: str,
    reached: Sequence[tuple[int, int, GlobalCheckpoint]],
    members: Sequence[str],
    *,
    durable: bool = True,
) -> dict[int, dict[str, PartitionTracked]]:
    """At the start of a batch over several partitions, in one statement: the group's rows on
    the partitions `reached` names locked (FOR UPDATE SKIP LOCKED: a partition another process
    is applying is left out) and moved to what the batch reached there (partition, its last
    offset, the latest place in it), where that is past them; then the rows of `members` on
    the partitions held (FOR SHARE). The rows are returned as they were before the move.
    Rows are locked in (name, partition) order, the order of every statement that locks a
    projection's rows on several partitions (`_IN_ORDER`): two of them cannot deadlock.
    Not `durable`: the transaction commits without waiting for its WAL (see move_batch)."""
    rows = await conn.fetch(
        _LOCK_PARTITIONS,
        group_row(group),
        [partition for partition, _, _ in reached],
        list(members),
        durable,
        [offset for _, offset, _ in reached],
        [str(at.tx_id) for _, _, at in reached],
        [at.position for _, _, at in reached],
    )
    return _by_partition(rows)


async def move_partition(
    conn: asyncpg.Connection,
    name: str,
    partition: int,
    offset: int,
    at: GlobalCheckpoint,
    *,
    follows: str | None = None,
) -> None:
    """Move a row (a group's, or a detached member's) on a partition; `follows` attaches it."""
    await conn.execute(
        "UPDATE projection_partitions SET kafka_offset = $3, tx_id = $4::text::xid8,"
        " position = $5, follows = coalesce($6, follows), updated_at = now()"
        " WHERE name = $1 AND partition = $2",
        name,
        partition,
        offset,
        str(at.tx_id),
        at.position,
        follows,
    )


async def park_partition(
    conn: asyncpg.Connection, name: str, partition: int, offset: int, at: GlobalCheckpoint
) -> None:
    """A member parks on a partition: it leaves its group there and stops at its last good
    record, until resumed (its other partitions carry on)."""
    await conn.execute(
        "UPDATE projection_partitions SET kafka_offset = $3, tx_id = $4::text::xid8,"
        " position = $5, follows = NULL, parked = true, updated_at = now()"
        " WHERE name = $1 AND partition = $2",
        name,
        partition,
        offset,
        str(at.tx_id),
        at.position,
    )


async def reread_partitions(conn: asyncpg.Connection, name: str, at: GlobalCheckpoint) -> None:
    """Every partition of a Kafka-fed projection is read again from the beginning, skipping
    what the projection already reflects (`at`, a rebuilt table's checkpoint)."""
    await conn.execute(
        f"{_IN_ORDER} UPDATE projection_partitions p SET kafka_offset = -1,"
        " tx_id = $2::text::xid8, position = $3, follows = NULL, parked = false,"
        " updated_at = now() FROM locked l WHERE p.name = $1 AND p.partition = l.partition",
        name,
        str(at.tx_id),
        at.position,
    )


async def least_places(
    conn: asyncpg.Connection | asyncpg.Pool, partitions: int | None
) -> dict[str, GlobalCheckpoint]:
    """Every projection's effective place: what it has applied all of. Fed from Kafka
    (`partitions` given), the least over its partitions, and a projection that has not
    covered every partition yet has applied nothing."""
    if partitions is None:
        rows = await conn.fetch(
            "SELECT name, tx_id::text::bigint AS tx_id, position FROM projection_progress"
        )
        return {r["name"]: _at(r) for r in rows}
    rows = await conn.fetch(
        "SELECT DISTINCT ON (name) name, tx_id::text::bigint AS tx_id, position,"
        " count(*) OVER (PARTITION BY name) AS covered"
        " FROM projection_partition_progress ORDER BY name, tx_id, position"
    )
    return {r["name"]: _at(r) if r["covered"] >= partitions else GlobalCheckpoint() for r in rows}


async def place_of(pool: asyncpg.Pool, position: int) -> tuple[GlobalCheckpoint | None, int]:
    """The place in the global order of the committed event at `position` (or of the last one
    before it, when that position was never committed), and the store's head position. Read
    through a role that sees every tenant: a position may be another tenant's."""
    row = await pool.fetchrow(
        "SELECT e.tx_id::text::bigint AS tx_id, e.position,"
        " (SELECT coalesce(max(position), 0) FROM events) AS head"
        " FROM (SELECT 1) AS one LEFT JOIN LATERAL (SELECT tx_id, position FROM events"
        "  WHERE position <= $1 ORDER BY position DESC LIMIT 1) AS e ON true",
        position,
    )
    return (_at(row) if row["tx_id"] is not None else None), row["head"]
