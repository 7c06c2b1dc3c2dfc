"""Apply the Alembic migrations (as the database owner) and report whether they are at head."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from alembic import command, op
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.util import await_

ROOT = Path(__file__).resolve().parents[2]


def _config(owner_dsn: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.cmd_opts = None
    cfg.attributes["url"] = owner_dsn
    cfg.set_main_option("sqlalchemy.url", owner_dsn.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config("postgresql://unused/")).get_current_head()


async def upgrade_to_head(owner_dsn: str) -> None:
    # Alembic's env.py runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(command.upgrade, _config(owner_dsn), "head")


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
