"""Migrating is one locked step: processes started at once on one new database, or on several
databases of one cluster (roles are cluster-wide), all bring their database to head."""

from __future__ import annotations

import asyncio
import os
import sys

import asyncpg
import httpx
from infra import answered, empty_databases, free_port, server_answer
from support import JWT_SECRET

from backend.eventstore.migrate import current_revision, head_revision


def _env(dsn: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "CARETRAIL_ENV": "test",
        "CARETRAIL_JWT_SECRET": JWT_SECRET,
        **extra,
    }
    env.pop("APP_DATABASE_URL", None)
    return env


async def _revision(dsn: str) -> str | None:
    conn = await asyncpg.connect(dsn)
    try:
        return await current_revision(conn)
    finally:
        await conn.close()


async def test_concurrent_migrations_on_one_cluster_all_reach_head() -> None:
    async with empty_databases(2) as (first, second):
        targets = [first, first, first, second, second, second]
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "backend.cli",
                "migrate",
                env=_env(dsn),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            for dsn in targets
        ]
        outputs = await asyncio.gather(*(p.communicate() for p in procs))
        results = zip(procs, outputs, strict=True)
        failures = [out.decode() for p, (out, _) in results if p.returncode]
        assert not failures, failures
        assert await _revision(first) == head_revision()
        assert await _revision(second) == head_revision()


async def test_several_servers_started_at_once_on_a_new_database_all_come_up() -> None:
    async with empty_databases(1) as (dsn,):
        ports = [free_port() for _ in range(3)]
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "backend.cli",
                "serve",
                env=_env(dsn, PORT=str(port)),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            for port in ports
        ]
        try:
            answers = await asyncio.gather(*(_status(port) for port in ports))
            assert answers == [200, 200, 200]
        finally:
            for proc in procs:
                proc.terminate()
            await asyncio.gather(*(asyncio.wait_for(p.communicate(), 10) for p in procs))


async def test_a_failed_migration_stops_the_command_with_its_reason() -> None:
    async with empty_databases(1) as (dsn,):
        conn = await asyncpg.connect(dsn)
        await conn.execute("CREATE TABLE tenants (blocking int)")  # migration 0001 creates it
        await conn.close()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "backend.cli",
            "migrate",
            env=_env(dsn),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 1
        assert 'relation "tenants" already exists' in err.decode()
        assert "Traceback" not in err.decode()


async def test_a_database_migrated_past_this_release_is_refused_with_its_reason() -> None:
    """A rollback of the image after an upgrade that migrated (docs/operations.md, "Upgrade and
    rollback"): the older release refuses the schema it does not know instead of running on it."""
    async with empty_databases(1) as (dsn,):
        assert await _migrate(dsn) == (0, "")
        conn = await asyncpg.connect(dsn)
        await conn.execute("UPDATE alembic_version SET version_num = '9999'")  # a later release
        await conn.close()
        code, err = await _migrate(dsn)
        assert code == 1
        assert "migration failed: No such revision or branch '9999'" in err
        assert "Traceback" not in err


async def _migrate(dsn: str) -> tuple[int | None, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        "migrate",
        env=_env(dsn),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 180)
    return proc.returncode, err.decode()


async def _status(port: int) -> int:
    """The first readiness status a starting server gives (0: none in 30 s)."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        answer = await server_answer(client, settled=answered, seconds=30)
    return 0 if answer is None else answer.status_code
