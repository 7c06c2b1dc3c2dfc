"""One projection mode per database, and a master key that opens the data, checked at start:
processes started against the wrong database or with the wrong key say so instead of doubling
read models or failing every request."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import sys

import httpx
from e2e_helpers import create_patient
from infra import answered, free_port, fresh_database, server_answer
from support import JWT_SECRET, TenantFixture

from backend.eventstore.db import create_pool
from backend.settings import with_user
from projections import mode as projection_mode

OTHER_MASTER_KEY = base64.b64encode(b"another-master-key-32-bytes-long").decode()


def _env(dsn: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "CARETRAIL_ENV": "test",
        "CARETRAIL_JWT_SECRET": JWT_SECRET,
        "HOST": "127.0.0.1",
        **extra,
    }
    for name in ("APP_DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        if name not in extra:
            env.pop(name, None)
    return env


async def _refused(command: str, env: dict[str, str]) -> str:
    """Run `caretrail <command>`, which must exit on its own with a failure; its output. One
    that does not exit is aborted with its threads' stacks dumped (faulthandler) into the
    failure's message."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        command,
        env={**env, "PYTHONFAULTHANDLER": "1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    output = bytearray()

    async def _read() -> None:
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(65536):
            output.extend(chunk)
        await proc.wait()

    reading = asyncio.ensure_future(_read())
    try:
        await asyncio.wait_for(asyncio.shield(reading), 120)
    except TimeoutError:
        proc.send_signal(signal.SIGABRT)
        await asyncio.wait_for(reading, 20)
        raise AssertionError(f"{command} did not exit in 120 s:\n{output.decode()}") from None
    assert proc.returncode != 0, output.decode()
    return output.decode()


async def test_an_api_without_kafka_refuses_a_database_fed_from_kafka() -> None:
    async with fresh_database() as owner:
        pool = await create_pool(with_user(owner, "caretrail_projector"), min_size=1, max_size=1)
        try:
            await projection_mode.claim(pool, projection_mode.KAFKA, "caretrail project")
        finally:
            await pool.close()
        output = await _refused("serve", _env(owner, PORT=str(free_port())))
    assert "this database's projections run kafka" in output
    assert "caretrail serve was started without KAFKA_BOOTSTRAP_SERVERS" in output


async def test_kafka_processes_refuse_a_database_with_projections_in_process(
    client: httpx.AsyncClient, owner_dsn: str
) -> None:
    """The suite's API runs its projections in-process on this database (it recorded that at
    start), so neither the relay nor a projector may feed it."""
    env = _env(owner_dsn, KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9")
    for command in ("relay", "project"):
        output = await _refused(command, env)
        assert "this database's projections run in-process" in output, output
        assert f"caretrail {command} was started with KAFKA_BOOTSTRAP_SERVERS" in output


async def test_a_master_key_that_opens_no_stored_key_makes_the_api_unready(
    client: httpx.AsyncClient, tenant: TenantFixture, owner_dsn: str
) -> None:
    await create_patient(client, tenant)  # at least one data key, wrapped by the suite's key
    port = free_port()
    env = _env(owner_dsn, PORT=str(port), CARETRAIL_MASTER_KEY=OTHER_MASTER_KEY)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        "serve",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as server:
            ready = await server_answer(server, settled=answered, seconds=90)
            assert ready is not None, "server did not start"
    finally:
        proc.terminate()
        output, _ = await asyncio.wait_for(proc.communicate(), 20)
    assert ready.status_code == 503, ready.text
    problem = ready.json()["checks"]["master_key"]
    assert "CARETRAIL_MASTER_KEY does not open this database's personal data" in problem
    assert ready.json()["checks"]["database"] == "ok"
    assert b'"event": "master_key_wrong"' in output
