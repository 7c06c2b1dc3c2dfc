"""Runs catch-up subscribers in-process from the store, and reports on them: every projection
(the embedded default) and, in a service of their own, the reactions (backend/reactions)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

import asyncpg

from backend.eventstore.signal import AppendSignal
from projections import liveness, quarantine, tracking
from projections.catchup import BatchFeed, CatchUpGroup
from projections.framework import Projection
from projections.liveness import RunnerStatus
from projections.tracking import ProjectionStatus, RelayStatus


class ProjectionService:
    """Runs `projections` as one catch-up group named `group` (see projections/catchup.py), or,
    when they are fed from Kafka by projector processes, only reports on them."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        projections: Sequence[Projection],
        *,
        group: str,
        batch_size: int = 500,
        signal: AppendSignal | None = None,
        applied: AppendSignal | None = None,
        partitions: int | None = None,
        feed: BatchFeed | None = None,
        source: BatchFeed | None = None,
        lazy: bool = False,
        durable: bool = True,
    ) -> None:
        self.pool = pool
        self.partitions = partitions
        """Fed from Kafka (status reads their partitions' progress): the partition count."""
        self.names = [p.name for p in projections]
        self.group = CatchUpGroup(
            pool,
            group,
            projections,
            batch_size=batch_size,
            signal=signal,
            applied=applied,
            feed=feed,
            source=source,
            lazy=lazy,
            durable=durable,
        )
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.group.start()  # every projection shows in status from the start
        self._tasks = [asyncio.create_task(self.group.run(self._stop))]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def running(self) -> bool:
        return bool(self._tasks) and not any(t.done() for t in self._tasks)

    async def oldest_write_transaction_seconds(self) -> float | None:
        """Age of the oldest open transaction that may still commit events: the only kind that
        holds the global readers back (see event_horizon() in migration 0002)."""
        value = await self.pool.fetchval(
            "SELECT extract(epoch FROM now() - min(xact_start))::float8 FROM pg_stat_activity"
            " WHERE backend_xid IS NOT NULL AND datname = current_database()"
            " AND has_any_column_privilege(usesysid, 'public.events', 'INSERT')"
        )
        return float(value) if value is not None else None

    async def status(self, seen: Sequence[RunnerStatus] | None = None) -> list[ProjectionStatus]:
        """Position, state, lag and quarantined events per projection (projections/tracking.py,
        projections/quarantine.py). A projection that is not parked is `running` while a runner
        that feeds it has been seen lately (this group in some process, or, fed from Kafka, a
        projector), else `stalled`. `seen`: the runners' heartbeats, if the caller has read
        them already (liveness.runners)."""
        statuses = await tracking.progress(self.pool, self.names, self.partitions)
        skipped = await quarantine.listed(self.pool, self.names)
        statuses = [
            dataclasses.replace(s, quarantined=tuple(skipped[s.name])) if s.name in skipped else s
            for s in statuses
        ]
        runner = self._feeding(await liveness.runners(self.pool) if seen is None else seen)
        if runner is not None and runner.state == "running":
            return statuses
        return [
            dataclasses.replace(s, state="stalled") if s.state == "running" else s for s in statuses
        ]

    def _feeding(self, seen: Sequence[RunnerStatus]) -> RunnerStatus | None:
        """The runner that feeds these projections, as last seen: this catch-up group (in any
        process) or, fed from Kafka, the projector seen most recently; None if none ever ran."""
        if self.partitions is not None:
            return liveness.freshest(seen, liveness.PROJECTOR)
        mine = [r for r in seen if r.kind == liveness.IN_PROCESS and r.name == self.group.name]
        return mine[0] if mine else None

    async def relays(self) -> list[RelayStatus]:
        return await tracking.relays(self.pool)
