"""Rebuild a read model from zero while reads continue, then swap it in atomically.

The projection replays every event into a shadow table (`<table>__rebuild`, same columns,
indexes, row-level security policies and grants) under its own checkpoint
(`<name>__rebuild`). Each batch commits with that checkpoint, so an interrupted rebuild resumes
where it stopped. Once it has caught up, one short transaction renames the shadow over the live
table and moves the live projection's checkpoint to the rebuild's; the live runner then carries
on from there. A Kafka-fed projection is told to re-read its partitions from the beginning,
skipping everything up to the rebuild's checkpoint.

A StateProjection (one row per stream) is rebuilt in bulk: whole streams folded in memory,
rows written with COPY (projections/bulk.py). Other projections (counters, the ledger) replay
through their own `apply`, a batch at a time, as their runners apply them.

DDL runs as the database owner, who also writes the bulk path's rows (see projections/bulk.py);
events are read, and the per-batch path's rows written, as caretrail_projector.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

import asyncpg

from backend.eventstore.db import connect_for_copy, create_pool
from backend.eventstore.types import GlobalCheckpoint
from projections import tracking
from projections.bulk import Progress, RebuildFailed, StateRebuild
from projections.catchup import CatchUpRunner
from projections.framework import StateProjection, TableProjection

__all__ = ["Progress", "RebuildFailed", "rebuild"]

BATCH = 10_000
"""Events per committed batch (per chunk in bulk)."""
READING = {"enable_sort": "off"}
"""The settings of the connections that read the store: its events are read in their global
order, a chunk at a time, which the index on that order gives without sorting. Without
statistics on `events` (a store just loaded; a server without autovacuum, as the bench's) the
planner estimated fewer rows than a chunk and, for every chunk, gathered all the remaining
events and sorted them, on disk beyond work_mem: 100 ms for the bench's first chunk of 10,000
events where the walk of the index takes 10. With statistics it walks the index anyway. Set
for the session rather than each read's transaction: a read issued while a chunk is folded
goes on only when the event loop runs, one round trip at a time."""
CACHED_STREAMS = 50_000
"""Folded states a bulk rebuild keeps in memory between chunks (a patient's takes about 800
bytes with its key; states of longer streams more)."""


async def rebuild(
    owner_dsn: str,
    projector_dsn: str,
    projection: TableProjection,
    progress: Progress,
    *,
    restart: bool = False,
    batch_size: int = BATCH,
    cached_streams: int = CACHED_STREAMS,
) -> int:
    """Rebuild `projection`'s table; the number of events applied by this run."""
    shadow = shadow_of(projection, "rebuild")
    owner = await connect_for_copy(owner_dsn)
    pool = await create_pool(projector_dsn, min_size=1, max_size=2, server_settings=READING)
    try:
        if restart:
            await discard_shadow(owner, shadow)
        starting = asyncio.ensure_future(_start(pool, shadow.name))  # beside the owner's DDL
        try:
            await create_shadow(owner, projection.table, shadow.table)
        finally:
            at, ahead = await starting  # awaited however the DDL ends
        async with _unforced(owner, shadow.table):
            if isinstance(shadow, StateProjection):
                bulk = StateRebuild(
                    pool, owner, shadow, batch_size=batch_size, cached_streams=cached_streams
                )
                applied = await bulk.run(at, progress, ahead)
            else:
                applied = await _replay(pool, shadow, progress, ahead, batch_size)
        await _swap(owner, projection, shadow)
        return applied
    finally:
        await pool.close()
        await owner.close()


def shadow_of(projection: TableProjection, purpose: str) -> TableProjection:
    """The projection writing into `<table>__<purpose>` under checkpoint `<name>__<purpose>`."""
    shadow: TableProjection = dataclasses.replace(
        projection,  # type: ignore[type-var]
        name=f"{projection.name}__{purpose}",
        table=f"{projection.table}__{purpose}",
    )
    return shadow


@contextlib.asynccontextmanager
async def _unforced(owner: asyncpg.Connection, shadow: str) -> AsyncIterator[None]:
    """The owner exempt from the shadow's row-level security while the rows are written: the
    bulk path's COPY is refused under security that applies to the writer. It stays enabled,
    so the API's role remains under it, and is forced again however the build ends: a shadow
    left behind (a parked or interrupted rebuild) is a tenant table like any other."""
    await owner.execute(f"ALTER TABLE {shadow} NO FORCE ROW LEVEL SECURITY")
    try:
        yield
    finally:
        await owner.execute(f"ALTER TABLE {shadow} FORCE ROW LEVEL SECURITY")


async def _start(pool: asyncpg.Pool, name: str) -> tuple[GlobalCheckpoint, int]:
    """Where the shadow is, and how many events are ahead of it (counted once: the count scans
    what is left)."""
    at = await _checkpoint(pool, name)
    return at, await _ahead(pool, name)


async def _checkpoint(pool: asyncpg.Pool, name: str) -> GlobalCheckpoint:
    """Where the shadow is: the beginning on a first run, its last batch when resuming."""
    await tracking.ensure(pool, [name])
    tracked = (await tracking.read(pool, [name]))[name]
    if not tracked.running:
        raise RebuildFailed.parked(name)
    return tracked.own


async def _replay(
    pool: asyncpg.Pool, shadow: TableProjection, progress: Progress, ahead: int, batch_size: int
) -> int:
    """The per-batch path: the shadow follows the store alone, a committed batch at a time."""
    runner = CatchUpRunner(pool, shadow, batch_size=batch_size)
    applied = 0
    while step := await runner.step():
        applied += step
        progress(applied, max(ahead - applied, 0))
    if (await runner.checkpoint()).state != "running":
        raise RebuildFailed.parked(shadow.name)
    return applied


async def _ahead(pool: asyncpg.Pool, name: str) -> int:
    value: int = await pool.fetchval(
        "SELECT count(*) FROM events e, projection_checkpoints c"
        " WHERE c.name = $1 AND (e.tx_id, e.position) > (c.tx_id, c.position)",
        name,
    )
    return value


async def create_shadow(owner: asyncpg.Connection, live: str, shadow: str) -> None:
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
        roles = ", ".join("PUBLIC" if r == "public" else quote_ident(r) for r in p["roles"])
        clause = f"CREATE POLICY {quote_ident(p['policyname'])} ON {shadow} AS {p['permissive']}"
        clause += f" FOR {p['cmd']} TO {roles}"
        if p["qual"] is not None:
            clause += f" USING ({p['qual']})"
        if p["with_check"] is not None:
            clause += f" WITH CHECK ({p['with_check']})"
        statements.append(clause)
    statements += [
        f"GRANT {g['privileges']} ON {shadow} TO {quote_ident(g['grantee'])}" for g in grants
    ]
    async with owner.transaction():
        for statement in statements:
            await owner.execute(statement)


async def _swap(owner: asyncpg.Connection, live: TableProjection, shadow: TableProjection) -> None:
    async with owner.transaction():
        # Detach the live projection first, from its rows in the order the runners lock them
        # (Kafka's partition rows, then its checkpoint row) and only then lock its table, as a
        # batch does: this waits for a batch applying to it and keeps later ones off it, and a
        # batch that holds a row cannot wait for the table the other way round (a deadlock,
        # which aborted the rebuild). Fed from Kafka, the projection also re-reads its
        # partitions from the start, skipping what the rebuilt table already reflects.
        rebuilt = (await tracking.read(owner, [shadow.name]))[shadow.name].own
        await tracking.reread_partitions(owner, live.name, rebuilt)
        await tracking.detach_at(owner, live.name, rebuilt)
        await owner.execute(f"LOCK TABLE {live.table} IN ACCESS EXCLUSIVE MODE")
        await owner.execute(f"ALTER TABLE {live.table} RENAME TO {live.table}__old")
        await owner.execute(f"ALTER TABLE {shadow.table} RENAME TO {live.table}")
        await owner.execute(f"DROP TABLE {live.table}__old")
        await tracking.forget(owner, shadow.name)


async def discard_shadow(owner: asyncpg.Connection, shadow: TableProjection) -> None:
    async with owner.transaction():
        await owner.execute(f"DROP TABLE IF EXISTS {shadow.table}")
        await tracking.forget(owner, shadow.name)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
