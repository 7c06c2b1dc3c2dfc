"""Helpers for the auditor's tests: a writer that is slow to commit, and tampering as the owner."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
from infra import fresh_database

from backend.auth.principal import Principal, Role
from backend.bootstrap import create_app
from backend.eventstore import EventStore
from backend.eventstore.db import connect
from backend.handling import CommandResult, CommandSession, RequestContext, run_command
from backend.patients.service import change_details
from backend.settings import Settings

# Flip one character of the ciphertext of a stream's first event (a patient's registration).
ALTER_CIPHERTEXT = """
UPDATE events SET data = jsonb_set(data, '{sealed,ct}', to_jsonb(
         CASE WHEN left(data #>> '{sealed,ct}', 1) = 'A' THEN 'B' ELSE 'A' END
         || substr(data #>> '{sealed,ct}', 2)))
 WHERE stream_id = $1 AND version = 1
"""


@asynccontextmanager
async def slow_change(
    store: EventStore, tenant_id: uuid.UUID, patient_id: str, changes: dict[str, Any], hold: float
) -> AsyncIterator[asyncio.Task[CommandResult]]:
    """A change to a patient whose transaction stays open `hold` seconds after inserting its
    event, then commits: entered once the event is inserted; the task is the command."""
    inserted = asyncio.Event()
    principal = Principal("slow-writer", tenant_id, frozenset({Role.NURSE}))
    ctx = RequestContext(principal, "slow", "slow", dt.datetime.now(dt.UTC))

    async def handler(session: CommandSession) -> CommandResult:
        result = await change_details(session, uuid.UUID(patient_id), changes)
        inserted.set()
        await asyncio.sleep(hold)
        return result

    command = asyncio.create_task(run_command(store, ctx, tenant_id, handler))
    await inserted.wait()
    try:
        yield command
    finally:
        await command


@asynccontextmanager
async def slow_statement(
    pool: asyncpg.Pool, tenant_id: uuid.UUID, patient_id: str, delay: float
) -> AsyncIterator[asyncio.Task[None]]:
    """A writer (the runtime role) whose statement begins now but inserts its event, a second
    version of the patient renaming them (in the clear), only `delay` seconds later, then
    commits at once: a statement slowed down between its start and its insert."""

    async def write() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant_id))
            await conn.execute(
                "INSERT INTO events (event_id, tenant_id, stream_type, stream_id, version,"
                " event_type, data, occurred_at)"
                " SELECT $1, $2, 'patient', $3, 2, 'PatientDetailsChanged', $4, now()"
                " FROM pg_sleep($5)",
                uuid.uuid4(),
                tenant_id,
                uuid.UUID(patient_id),
                {"patient_id": patient_id, "changes": {"family_name": "Shelley"}},
                delay,
            )

    writer = asyncio.create_task(write())
    await asyncio.sleep(0.05)  # the statement has begun
    try:
        yield writer
    finally:
        await writer


async def tamper(owner: asyncpg.Connection, sql: str, *args: object) -> None:
    """Alter stored events as the table owner can: with the immutability trigger off."""
    async with owner.transaction():
        await owner.execute("ALTER TABLE events DISABLE TRIGGER events_immutable")
        await owner.execute(sql, *args)
        await owner.execute("ALTER TABLE events ENABLE TRIGGER events_immutable")


@asynccontextmanager
async def app_of_its_own(
    settings: Settings,
) -> AsyncIterator[tuple[httpx.AsyncClient, asyncpg.Connection, str]]:
    """The application on a database of its own, so that tampering harms no other test: a
    client (an unhandled error reads as the 500 a server sends), the owner's connection and the
    owner's DSN."""
    async with fresh_database() as dsn:
        # Few connections: the cluster's slots are shared with every other test run.
        app = create_app(settings.model_copy(update={"database_url": dsn, "pool_size": 4}))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                owner = await connect(dsn)
                try:
                    yield client, owner, dsn
                finally:
                    await owner.close()
