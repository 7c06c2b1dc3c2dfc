"""The catch-up subscription: a projection follows the store's gap-safe global order directly.

This is the embedded default (no Kafka). Each batch of events is applied and the checkpoint
advanced in one transaction that holds the checkpoint row's lock, so two runners of the same
projection never apply a batch twice. If a batch fails, its events are applied one per
transaction to find the one that fails; the projection is then parked with the error and that
event's position recorded, and it stays parked (neither retrying in a loop nor skipping the
event) until `caretrail projections resume NAME`.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import asyncpg
import structlog

from backend.eventstore import RecordedEvent
from backend.eventstore.store import GlobalReader
from backend.eventstore.types import GlobalCheckpoint
from projections.framework import Projection

log = structlog.get_logger("caretrail.projections")
# The database went away: retry later, do not blame (park) the projection.
TRANSIENT = (OSError, asyncpg.InterfaceError, asyncpg.ConnectionDoesNotExistError)


class _Moved(Exception):
    """Another runner advanced the checkpoint first."""


@dataclass(frozen=True)
class Checkpoint:
    at: GlobalCheckpoint
    state: str


class CatchUpRunner:
    def __init__(
        self,
        pool: asyncpg.Pool,
        projection: Projection,
        *,
        batch_size: int = 500,
        idle_seconds: float = 0.01,
    ) -> None:
        self.pool = pool
        self.projection = projection
        self.reader = GlobalReader(pool)
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds

    async def checkpoint(self) -> Checkpoint:
        row = await self.pool.fetchrow(
            "SELECT tx_id::text::bigint AS tx_id, position, state FROM projection_checkpoints"
            " WHERE name = $1",
            self.projection.name,
        )
        if row is None:  # first run: start at the beginning of the global order
            await self.pool.execute(
                "INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING",
                self.projection.name,
            )
            return await self.checkpoint()
        return Checkpoint(GlobalCheckpoint(row["tx_id"], row["position"]), row["state"])

    async def step(self) -> int:
        """Apply the next batch; the number of events applied (0: caught up or parked)."""
        checkpoint = await self.checkpoint()
        if checkpoint.state != "running":
            return 0
        events = await self.reader.read_after(checkpoint.at, self.batch_size)
        return await self.apply_batch(checkpoint.at, events) if events else 0

    async def apply_batch(self, after: GlobalCheckpoint, events: list[RecordedEvent]) -> int:
        """Apply events read after the checkpoint `after`; how many were applied (fewer when one
        failed and parked the projection, none when another runner moved it meanwhile)."""
        try:
            await self._apply(after, events)
        except _Moved:
            return 0
        except TRANSIENT:
            raise
        except Exception:
            return await self._apply_one_by_one(after, events)
        return len(events)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                applied = await self.step()
            except (*TRANSIENT, asyncpg.PostgresError) as e:
                log.warning("projection_step_failed", projection=self.projection.name, error=str(e))
                applied = 0
                await asyncio.sleep(1)
            if applied == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.idle_seconds)

    async def _apply(self, after: GlobalCheckpoint, events: list[RecordedEvent]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            locked = await conn.fetchrow(
                "SELECT tx_id::text::bigint AS tx_id, position FROM projection_checkpoints"
                " WHERE name = $1 FOR UPDATE",
                self.projection.name,
            )
            if GlobalCheckpoint(locked["tx_id"], locked["position"]) != after:
                raise _Moved
            await self.projection.apply(conn, events)
            last = events[-1]
            await conn.execute(
                "UPDATE projection_checkpoints SET tx_id = $2::text::xid8, position = $3,"
                " updated_at = now() WHERE name = $1",
                self.projection.name,
                str(last.tx_id),
                last.position,
            )

    async def _apply_one_by_one(self, after: GlobalCheckpoint, events: list[RecordedEvent]) -> int:
        for done, event in enumerate(events):
            try:
                await self._apply(after, [event])
            except (_Moved, *TRANSIENT):
                raise
            except Exception as e:
                await park(self.pool, self.projection.name, event, e)
                return done
            after = GlobalCheckpoint(event.tx_id, event.position)
        return len(events)


async def park(pool: asyncpg.Pool, name: str, event: RecordedEvent, error: Exception) -> None:
    """Stop a projection at the event its handler failed on, with the error for status."""
    detail = f"{type(error).__name__}: {error}"
    await pool.execute(
        "UPDATE projection_checkpoints SET state = 'parked', last_error = $2,"
        " error_position = $3, updated_at = now() WHERE name = $1",
        name,
        detail,
        event.position,
    )
    log.error(
        "projection_parked",
        projection=name,
        position=event.position,
        event_type=event.event_type,
        error=detail,
    )


async def resume(pool: asyncpg.Pool, name: str) -> bool:
    """Un-park a projection: it retries the event it stopped at. False if no such projection."""
    result: str = await pool.execute(
        "UPDATE projection_checkpoints SET state = 'running', last_error = NULL,"
        " error_position = NULL, updated_at = now() WHERE name = $1",
        name,
    )
    return result.endswith(" 1")


class SharedCatchUp:
    """Several projections following the store from one reading of it.

    Every projection that stands at the same checkpoint (all of them, once caught up) gets the
    same batch, read once; each applies it in its own transaction on its own checkpoint row, so
    one that fails parks alone and one that lags (just resumed, say) reads on its own until it
    reaches the others. Reading and decoding every event once per projection was most of the
    in-process projections' work.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        runners: list[CatchUpRunner],
        *,
        batch_size: int = 500,
        idle_seconds: float = 0.01,
    ) -> None:
        self.pool = pool
        self.runners = {r.projection.name: r for r in runners}
        self.reader = GlobalReader(pool)
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds

    async def step(self) -> int:
        rows = await self.pool.fetch(
            "SELECT name, tx_id::text::bigint AS tx_id, position FROM projection_checkpoints"
            " WHERE name = ANY($1) AND state = 'running'",
            list(self.runners),
        )
        groups: dict[GlobalCheckpoint, list[CatchUpRunner]] = {}
        for row in rows:
            at = GlobalCheckpoint(row["tx_id"], row["position"])
            groups.setdefault(at, []).append(self.runners[row["name"]])
        applied = 0
        for at, members in groups.items():
            events = await self.reader.read_after(at, self.batch_size)
            if events:
                done = await asyncio.gather(*(m.apply_batch(at, events) for m in members))
                applied += sum(done)
        return applied

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                applied = await self.step()
            except (*TRANSIENT, asyncpg.PostgresError) as e:
                log.warning("projections_step_failed", error=str(e))
                applied = 0
                await asyncio.sleep(1)
            if applied == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.idle_seconds)
