"""The notification backlog for metrics: how many notifications are due and not yet handled by
the dispatcher, and how long the oldest has waited. Reads the dispatcher's own partial index
(`rm_notifications_due`), so its cost follows the backlog, not the table."""

from __future__ import annotations

import asyncpg


async def backlog(pool: asyncpg.Pool) -> tuple[int, float]:
    """(due now, age in seconds of the oldest due one, 0 when none), across every tenant: read
    through the projector's role."""
    row = await pool.fetchrow(
        "SELECT count(*) AS due,"
        " coalesce(extract(epoch FROM now() - min(due_at)), 0)::float8 AS oldest"
        " FROM rm_notifications WHERE due_at IS NOT NULL AND due_at <= now()"
    )
    assert row is not None
    return row["due"], max(row["oldest"], 0.0)
