"""Apply the Alembic migrations (as the database owner) and report whether they are at head.

Migrating is one locked step: every process that migrates a database (each `caretrail serve`,
`caretrail migrate` in a deploy job) first takes a session advisory lock in that database, so
two never run the same migration at once; the second finds the work done. Roles and their
settings are cluster-wide, though, and advisory locks are per database: two databases of one
cluster migrating at once can still collide on a role ("tuple concurrently updated", or both
creating it). Each migration is its own transaction, so such a collision rolls back only that
migration, which is then run again.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import asyncpg
import structlog
from alembic import command, op
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.util import await_

from backend.eventstore.dsn import with_user
from backend.eventstore.epochs import StoreEpoch, settle_epoch
from backend.shipped import shipped_folder

ROOT = Path(__file__).resolve().parents[2]
MIGRATION_LOCK = 4_206_042_017
"""The advisory lock key (per database) held while migrating."""
CLUSTER_RACE_ATTEMPTS = 8
log = structlog.get_logger("caretrail.migrate")


class MigrationFailed(RuntimeError):
    """The database could not be brought to the head revision; the message says why."""


def _config(owner_dsn: str) -> Config:
    cfg = Config()  # alembic.ini only configures logging, for running alembic by hand
    cfg.set_main_option("script_location", str(shipped_folder("migrations")))
    cfg.cmd_opts = None
    cfg.attributes["url"] = owner_dsn
    cfg.set_main_option("sqlalchemy.url", owner_dsn.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config("postgresql://unused/")).get_current_head()


async def upgrade_to_head(
    owner_dsn: str, reader_dsn: str | None = None, *, new_epoch: str | None = None
) -> StoreEpoch:
    """Bring the database to head and settle its store epoch (backend/eventstore/epochs.py),
    under the migration lock; MigrationFailed if it cannot. `reader_dsn` reads every tenant's
    events (default: the owner DSN as caretrail_projector); `new_epoch`, a reason, begins one
    whatever the epoch."""
    lock = await asyncpg.connect(owner_dsn)
    try:
        await lock.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        await _upgrade(owner_dsn)
        reader = reader_dsn or with_user(owner_dsn, "caretrail_projector")
        return await settle_epoch(lock, reader, reason=new_epoch)
    finally:
        await lock.close()  # ends the session, and with it the lock


async def _upgrade(owner_dsn: str) -> None:
    for attempt in range(1, CLUSTER_RACE_ATTEMPTS + 1):
        try:
            # Alembic's env.py runs its own event loop, so it gets a thread of its own.
            await asyncio.to_thread(command.upgrade, _config(owner_dsn), "head")
            return
        except Exception as e:
            if not _cluster_race(e) or attempt == CLUSTER_RACE_ATTEMPTS:
                raise MigrationFailed(f"migration failed: {_reason(e)}") from e
            log.warning("migration_retried", attempt=attempt, reason=_reason(e))
            await asyncio.sleep(random.uniform(0.05, 0.2) * attempt)


def _causes(e: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = e
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or getattr(current, "orig", None) or current.__context__
    return chain


def _cluster_race(e: BaseException) -> bool:
    """A collision with another database's migration on a cluster-wide role or grant."""
    for cause in _causes(e):
        state = getattr(cause, "sqlstate", None)
        text = str(cause)
        if state == "XX000" and "tuple concurrently" in text:
            return True
        if state in ("23505", "42710") and ("pg_authid" in text or "role" in text):
            return True
    return False


def _reason(e: BaseException) -> str:
    return str(_causes(e)[-1]).strip().splitlines()[0] if str(e) else type(e).__name__


async def current_revision(conn: asyncpg.Connection) -> str | None:
    try:
        value = await conn.fetchval("SELECT version_num FROM alembic_version")
    except asyncpg.UndefinedTableError:
        return None
    return str(value) if value is not None else None


def execute_script(sql: str) -> None:
    """Run a multi-statement SQL script inside a migration.

    asyncpg prepares every statement it is given through SQLAlchemy, and a prepared statement
    holds one command, so scripts go to the driver connection's simple-query execute.
    """
    driver = op.get_bind().connection.driver_connection
    assert driver is not None
    await_(driver.execute(sql))


CURRENT_TENANT = "NULLIF(current_setting('app.tenant_id', true), '')::uuid"
"""The transaction's tenant; no tenant set means no rows (fail closed)."""


def read_model_security(*tables: str) -> str:
    """The SQL that makes read-model tables tenant tables: RLS enabled and forced, each tenant
    sees its own rows, the projection runner writes every tenant's, the API only reads."""
    return "\n".join(
        f"""
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {table}
  USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT});
CREATE POLICY projector_writes_all ON {table} TO caretrail_projector USING (true) WITH CHECK (true);
GRANT SELECT ON {table} TO caretrail_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO caretrail_projector;
"""
        for table in tables
    )
