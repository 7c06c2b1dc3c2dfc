"""Store epochs: the global order, and the Kafka topic, survive a restore (migration 0021).

An epoch belongs to one cluster and one database. Every migrate (each `caretrail serve` at start,
`caretrail migrate` in a deploy job) settles it under the migration lock before anything writes:
on the cluster and database that began the current epoch nothing happens; anywhere else (a dump
restored onto a new cluster, or into a new database) the next epoch begins, with an offset that
puts new transactions above every place stored, and a Kafka topic of its own.
`caretrail restore finish` begins one in any case: after a restore that keeps both (a
point-in-time recovery), the topic still holds events the database lost.

The relay and the projector wait for a settled epoch before they touch Kafka, and then use its
topic: they never publish a restored database's events into, nor read them from, a topic another
database wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import asyncpg
import structlog

log = structlog.get_logger("caretrail.epochs")
WAIT_LOG_SECONDS = 30


@dataclass(frozen=True)
class StoreEpoch:
    epoch: int
    xid_offset: int
    highest_tx_id: int
    kafka_topic: str
    reason: str


def _epoch(row: asyncpg.Record) -> StoreEpoch:
    return StoreEpoch(
        row["epoch"], row["xid_offset"], row["highest_tx_id"], row["kafka_topic"], row["reason"]
    )


async def current_epoch(conn: asyncpg.Connection | asyncpg.Pool) -> StoreEpoch | None:
    row = await conn.fetchrow("SELECT * FROM store_epochs ORDER BY epoch DESC LIMIT 1")
    return _epoch(row) if row is not None else None


async def settle_epoch(
    owner: asyncpg.Connection, reader_dsn: str, *, reason: str | None = None
) -> StoreEpoch:
    """The current epoch, begun anew if it is another cluster's or database's, or if `reason`
    is given (an operator's). `reader_dsn` connects as a role that reads every tenant's events
    (the projector's): the owner is held to row-level security like everyone."""
    if reason is None and await owner.fetchval("SELECT store_epoch_settled()"):
        current = await current_epoch(owner)
        assert current is not None
        return current
    reader = await asyncpg.connect(reader_dsn)
    try:
        highest = await reader.fetchval(
            "SELECT tx_id::text::bigint FROM events ORDER BY tx_id DESC, position DESC LIMIT 1"
        )
    finally:
        await reader.close()
    why = reason or "another cluster or database: restored"
    row = await owner.fetchrow("SELECT * FROM begin_store_epoch($1, $2)", highest, why)
    began = _epoch(row)
    log.warning(
        "store_epoch_began",
        epoch=began.epoch,
        xid_offset=began.xid_offset,
        highest_tx_id=began.highest_tx_id,
        kafka_topic=began.kafka_topic,
        reason=began.reason,
    )
    return began


async def settled_epoch(pool: asyncpg.Pool, stop: asyncio.Event) -> StoreEpoch | None:
    """The current epoch once it is settled (`caretrail migrate` settles it), waiting until then
    (None if `stop` is set first): a relay or projector started beside a restore must not use
    the restored database's old topic."""
    waited = 0
    while not await pool.fetchval("SELECT store_epoch_settled()"):
        if waited % WAIT_LOG_SECONDS == 0:
            log.warning("store_epoch_unsettled", detail="waiting for caretrail migrate")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
        if stop.is_set():
            return None
        waited += 1
    return await current_epoch(pool)
