"""Rebuild a read model from zero while reads continue, then swap it in atomically.

The projection replays every event into a shadow table (`<table>__rebuild`, same columns,
indexes, row-level security policies and grants) under its own checkpoint
(`<name>__rebuild`). Each batch commits with that checkpoint, so an interrupted rebuild resumes
where it stopped. Once it has caught up, one short transaction renames the shadow over the live
table and moves the live projection's checkpoint to the rebuild's; the live runner then carries
on from there. A Kafka-fed projection is told to re-read its partitions from the beginning,
skipping everything up to the rebuild's checkpoint.

DDL runs as the database owner; events are read and rows written as caretrail_projector.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import asyncpg

from backend.eventstore.db import connect, create_pool
from projections.catchup import CatchUpRunner
from projections.framework import TableProjection

Progress = Callable[[int, int], None]
"""Called with (events applied so far, events still ahead) after every batch."""


class RebuildFailed(Exception):
    pass


async def rebuild(
    owner_dsn: str,
    projector_dsn: str,
    projection: TableProjection,
    progress: Progress,
    *,
    restart: bool = False,
    batch_size: int = 2000,
) -> int:
    """Rebuild `projection`'s table; the number of events applied by this run."""
    shadow: TableProjection = dataclasses.replace(
        projection,  # type: ignore[type-var]
        name=f"{projection.name}__rebuild",
        table=f"{projection.table}__rebuild",
    )
    owner = await connect(owner_dsn)
    pool = await create_pool(projector_dsn, min_size=1, max_size=2)
    try:
        if restart:
            await _discard(owner, shadow)
        await _create_shadow(owner, projection.table, shadow.table)
        runner = CatchUpRunner(pool, shadow, batch_size=batch_size)
        applied = 0
        await runner.checkpoint()  # creates it on a first run, so what is ahead can be counted
        ahead_at_start = await _ahead(pool, shadow.name)  # once: the count scans what is left
        while True:
            step = await runner.step()
            if step == 0:
                if (await runner.checkpoint()).state != "running":
                    msg = f"{shadow.name} is parked; see GET /v1/projections or the checkpoint row"
                    raise RebuildFailed(msg)
                break
            applied += step
            progress(applied, max(ahead_at_start - applied, 0))
        await _swap(owner, projection, shadow)
        return applied
    finally:
        await pool.close()
        await owner.close()


async def _ahead(pool: asyncpg.Pool, name: str) -> int:
    value: int = await pool.fetchval(
        "SELECT count(*) FROM events e, projection_checkpoints c"
        " WHERE c.name = $1 AND (e.tx_id, e.position) > (c.tx_id, c.position)",
        name,
    )
    return value


async def _create_shadow(owner: asyncpg.Connection, live: str, shadow: str) -> None:
    """The shadow table with the live table's shape, security policies and grants."""
    exists = await owner.fetchval("SELECT to_regclass($1) IS NOT NULL", shadow)
    if exists:
        return  # resuming
    policies = await owner.fetch(
        "SELECT policyname, permissive, roles, cmd, qual, with_check FROM pg_policies"
        " WHERE schemaname = 'public' AND tablename = $1",
        live,
    )
    grants = await owner.fetch(
        "SELECT grantee, string_agg(privilege_type, ', ') AS privileges"
        " FROM information_schema.role_table_grants"
        " WHERE table_schema = 'public' AND table_name = $1"
        " AND grantee <> current_user GROUP BY grantee",
        live,
    )
    statements = [
        f"CREATE TABLE {shadow} (LIKE {live} INCLUDING ALL)",
        f"ALTER TABLE {shadow} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {shadow} FORCE ROW LEVEL SECURITY",
    ]
    for p in policies:
        roles = ", ".join("PUBLIC" if r == "public" else _ident(r) for r in p["roles"])
        clause = f"CREATE POLICY {_ident(p['policyname'])} ON {shadow} AS {p['permissive']}"
        clause += f" FOR {p['cmd']} TO {roles}"
        if p["qual"] is not None:
            clause += f" USING ({p['qual']})"
        if p["with_check"] is not None:
            clause += f" WITH CHECK ({p['with_check']})"
        statements.append(clause)
    statements += [f"GRANT {g['privileges']} ON {shadow} TO {_ident(g['grantee'])}" for g in grants]
    async with owner.transaction():
        for statement in statements:
            await owner.execute(statement)


async def _swap(owner: asyncpg.Connection, live: TableProjection, shadow: TableProjection) -> None:
    async with owner.transaction():
        await owner.execute(f"LOCK TABLE {live.table} IN ACCESS EXCLUSIVE MODE")
        await owner.execute(f"ALTER TABLE {live.table} RENAME TO {live.table}__old")
        await owner.execute(f"ALTER TABLE {shadow.table} RENAME TO {live.table}")
        await owner.execute(f"DROP TABLE {live.table}__old")
        await owner.execute(
            "INSERT INTO projection_checkpoints (name, tx_id, position)"
            " SELECT $1, tx_id, position FROM projection_checkpoints WHERE name = $2"
            " ON CONFLICT (name) DO UPDATE SET tx_id = EXCLUDED.tx_id,"
            " position = EXCLUDED.position, state = 'running', last_error = NULL,"
            " error_position = NULL, updated_at = now()",
            live.name,
            shadow.name,
        )
        # Fed from Kafka, the projection must also re-read its partitions from the start,
        # skipping what the rebuilt table already reflects (offset -1 marks the reset).
        await owner.execute(
            "UPDATE projection_partitions p SET kafka_offset = -1, tx_id = c.tx_id,"
            " position = c.position, updated_at = now()"
            " FROM projection_checkpoints c WHERE p.name = $1 AND c.name = $2",
            live.name,
            shadow.name,
        )
        await owner.execute("DELETE FROM projection_checkpoints WHERE name = $1", shadow.name)


async def _discard(owner: asyncpg.Connection, shadow: TableProjection) -> None:
    async with owner.transaction():
        await owner.execute(f"DROP TABLE IF EXISTS {shadow.table}")
        await owner.execute("DELETE FROM projection_checkpoints WHERE name = $1", shadow.name)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
