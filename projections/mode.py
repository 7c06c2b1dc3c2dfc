"""One projection mode per database, recorded in it (migration 0020).

Projections run either in-process from the store (KAFKA_BOOTSTRAP_SERVERS unset) or in projector
processes fed from Kafka; both at once apply every event twice. The first process that runs or
feeds projections records its mode in the database; every later one claims the same mode and
refuses to start if the database says otherwise.
"""

from __future__ import annotations

import asyncpg

IN_PROCESS = "in-process"
KAFKA = "kafka"
_STARTED = {
    IN_PROCESS: "without KAFKA_BOOTSTRAP_SERVERS (projections in-process)",
    KAFKA: "with KAFKA_BOOTSTRAP_SERVERS (projections fed from Kafka)",
}


class ModeMismatch(RuntimeError):
    """The database's projections run in the other mode; the message says how to proceed."""


def of(kafka_bootstrap_servers: str | None) -> str:
    return KAFKA if kafka_bootstrap_servers else IN_PROCESS


async def claim(pool: asyncpg.Pool, mode: str, process: str) -> None:
    """Record `mode` if the database has none yet; ModeMismatch if it has the other one."""
    row = await pool.fetchrow(
        "WITH made AS (INSERT INTO projection_mode (mode, recorded_by) VALUES ($1, $2)"
        "  ON CONFLICT DO NOTHING RETURNING mode, recorded_by, recorded_at)"
        " SELECT * FROM made UNION ALL"
        " SELECT mode, recorded_by, recorded_at FROM projection_mode",
        mode,
        process,
    )
    if row is None:  # another process recorded it between our look and our insert
        row = await pool.fetchrow("SELECT mode, recorded_by, recorded_at FROM projection_mode")
    assert row is not None
    if row["mode"] == mode:
        return
    recorded = row["mode"]
    msg = (
        f"this database's projections run {recorded} (recorded by {row['recorded_by']} at"
        f" {row['recorded_at']:%Y-%m-%d %H:%M:%S} UTC), but {process} was started"
        f" {_STARTED[mode]}: both modes at once would apply every event twice. Start it"
        f" {_STARTED[recorded]}, or see docs/operations.md, 'One projection mode'"
    )
    raise ModeMismatch(msg)
