"""Quarantine: skip one event for one projection, on an operator's word.

A projection parks on an event its handler cannot apply and stays parked, retrying it on every
resume, until its code is fixed. When the event itself is at fault (bad data that no fix of the
handler should accept), an operator quarantines it for that projection: a row records which
event, for which projection, who decided and why; the projection is resumed. Every runner (the
catch-up group and runner, the Kafka projector) then passes the event over where it would have
parked on it: the check sits on the failure path, just before parking, so batches that apply
cost nothing more. Other projections still apply it. Status lists each projection's
quarantined events for as long as it exists.

A rebuild replays every event into the new table, quarantined ones included: one it cannot
apply still stops the rebuild.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from backend.eventstore import RecordedEvent
from backend.eventstore.db import TRANSIENT
from projections import tracking
from projections.framework import Projection


class QuarantineRefused(Exception):
    """No such event or projection, or no reason or operator given; the message says which."""


@dataclass(frozen=True)
class Quarantined:
    projection: str
    position: int
    event_type: str
    reason: str
    quarantined_by: str
    quarantined_at: dt.datetime
    resumed: bool
    """Whether the projection was parked on this event and is now running again."""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


async def quarantine(
    pool: asyncpg.Pool, projection: str, position: int, reason: str, by: str
) -> Quarantined:
    """Record the quarantine (again: the first record stands) and, if the projection is parked
    on that event, resume it. Needs the projector's role (it reads every tenant's events)."""
    if not reason.strip() or not by.strip():
        raise QuarantineRefused("a quarantine needs a reason and the operator's name")
    async with pool.acquire() as conn, conn.transaction():
        tracked = await tracking.read(conn, [projection])
        if projection not in tracked:
            raise QuarantineRefused(f"{projection} has not run here: no such projection")
        event = await conn.fetchrow(
            "SELECT event_id, event_type FROM events WHERE position = $1", position
        )
        if event is None:
            raise QuarantineRefused(f"no event at position {position}")
        row = await conn.fetchrow(
            "WITH made AS (INSERT INTO quarantined_events"
            "  (projection, position, event_id, event_type, reason, quarantined_by)"
            "  VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING *)"
            " SELECT * FROM made UNION ALL"
            " SELECT * FROM quarantined_events WHERE projection = $1 AND position = $2",
            projection,
            position,
            event["event_id"],
            event["event_type"],
            reason.strip(),
            by.strip(),
        )
        parked_here = await conn.fetchval(
            "SELECT state = 'parked' AND error_position = $2 FROM projection_checkpoints"
            " WHERE name = $1",
            projection,
            position,
        )
    resumed = bool(parked_here) and await tracking.resume(pool, projection)
    return Quarantined(
        row["projection"],
        row["position"],
        row["event_type"],
        row["reason"],
        row["quarantined_by"],
        row["quarantined_at"],
        resumed,
    )


async def holds(conn: asyncpg.Connection | asyncpg.Pool, name: str, position: int) -> bool:
    """Whether the event at `position`, which projection `name` has just failed to apply, is
    quarantined for it (then the runner passes it over instead of parking)."""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM quarantined_events"
            " WHERE projection = $1 AND position = $2)",
            name,
            position,
        )
    )


async def first_failure(
    conn: asyncpg.Connection, projection: Projection, events: Sequence[RecordedEvent]
) -> tuple[int, Exception] | None:
    """Apply `events` inside a savepoint; if that fails, one by one, each in its own, passing
    over an event quarantined for `projection`. The first that fails and is not quarantined
    (its index in `events` and its error), those before it applied; None when none failed.
    The caller parks the projection at the event before it (every runner, its own place)."""
    try:
        async with conn.transaction():
            await projection.apply(conn, events)
        return None
    except TRANSIENT:
        raise
    except Exception:
        pass
    for index, event in enumerate(events):
        try:
            async with conn.transaction():
                await projection.apply(conn, [event])
        except TRANSIENT:
            raise
        except Exception as e:
            if not await holds(conn, projection.name, event.position):
                return index, e
    return None


async def listed(pool: asyncpg.Pool, names: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Each projection's quarantined events, oldest first, as status shows them."""
    rows = await pool.fetch(
        "SELECT projection, position, event_type, reason, quarantined_by, quarantined_at"
        " FROM quarantined_events WHERE projection = ANY($1) ORDER BY projection, position",
        list(names),
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        entry = {k: r[k] for k in ("position", "event_type", "reason", "quarantined_by")}
        entry["quarantined_at"] = r["quarantined_at"].isoformat()
        found.setdefault(r["projection"], []).append(entry)
    return found
