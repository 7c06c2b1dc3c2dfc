"""The scheduling timers: the time-driven half of scheduling, across every tenant. A hold whose
time ran out is expired (SlotHoldExpired, and its time released on the day schedules); an
appointment nobody checked in for by the tenant's `no_show_after_min` becomes a no-show
(AppointmentMarkedNoShow); a waitlist offer past its window expires and passes to the next in
line (waitlist_service.expire). The system is the actor ("scheduler:<what>").

What is due is read from read models (rm_slot_holds; rm_appointments with rm_no_show_rules;
rm_waitlist,
through the projector role, which sees every tenant), never from memory: a restarted process,
or another one, finds the same work. The read models are only hints: each command decides on
the streams themselves and records nothing when the work is no longer due (already expired,
confirmed, checked in), so two processes, or a timer racing a person, record it once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog

from backend.eventstore import EventStore
from backend.handling import CommandSession, run_as_worker, utc_now
from backend.polling import Poller
from backend.scheduling import service, waitlist_service

log = structlog.get_logger("caretrail.scheduling.timers")

DUE_HOLDS = (
    "SELECT tenant_id, hold_id AS id FROM rm_slot_holds"
    " WHERE status = 'held' AND expires_at <= $1 ORDER BY expires_at LIMIT $2"
)
DUE_NO_SHOWS = (
    "SELECT a.tenant_id, a.appointment_id AS id FROM rm_appointments a"
    " JOIN rm_no_show_rules r ON r.tenant_id = a.tenant_id"
    " WHERE a.status IN ('requested', 'confirmed') AND a.back_charting_reason IS NULL"
    " AND a.visit_id IS NULL"
    " AND a.start_at <= $1::timestamptz"
    " AND a.start_at + make_interval(mins => r.grace_min) <= $1::timestamptz"
    " ORDER BY a.start_at LIMIT $2"
)


DUE_OFFERS = (
    "SELECT tenant_id, offer_id AS id, practitioner_id FROM rm_waitlist"
    " WHERE offer_status = 'open' AND offer_expires_at <= $1 ORDER BY offer_expires_at LIMIT $2"
)
Due = Callable[[CommandSession, asyncpg.Record], Awaitable[Any]]
"""The command for one row of what is due (its `tenant_id`, `id` and whatever else it names)."""
DUE: tuple[tuple[str, str, Due], ...] = (
    (DUE_HOLDS, "scheduler:holds", lambda s, r: service.expire_hold(s, r["id"])),
    (DUE_NO_SHOWS, "scheduler:no-shows", lambda s, r: service.auto_no_show(s, r["id"])),
    (
        DUE_OFFERS,
        "scheduler:waitlist-offers",
        lambda s, r: waitlist_service.expire(s, r["practitioner_id"], r["id"]),
    ),
)


class SchedulingTimers(Poller):
    def __init__(
        self,
        projector_pool: asyncpg.Pool,
        store: EventStore,
        *,
        poll_seconds: float = 1.0,
        batch_size: int = 50,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.pool = projector_pool
        self.store = store
        self.batch_size = batch_size
        self.clock = clock
        super().__init__("scheduling-timers", self.run_due, poll_seconds)

    async def run_due(self) -> int:
        """Expire the holds and offers and mark the no-shows due now; how many were looked at."""
        seen = 0
        for sql, actor, command in DUE:
            rows = await self.pool.fetch(sql, self.clock(), self.batch_size)
            for row in rows:
                try:
                    await self._run(row, actor, command)
                except Exception:  # one subject's failure is logged; the others still run
                    log.exception("scheduling_timer_failed", actor=actor, subject=str(row["id"]))
            seen += len(rows)
        return seen

    async def _run(self, row: asyncpg.Record, actor: str, command: Due) -> None:
        await run_as_worker(
            self.store,
            actor,
            row["tenant_id"],
            str(row["id"]),
            self.clock(),
            lambda s: command(s, row),
        )
