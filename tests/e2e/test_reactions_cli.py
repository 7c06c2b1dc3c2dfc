"""`caretrail reactions run | status` as their own processes against an existing database."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from support import JWT_SECRET


def _env(owner_dsn: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": owner_dsn,
        "CARETRAIL_JWT_SECRET": JWT_SECRET,
        "CARETRAIL_ENV": "test",
    }
    env.pop("APP_DATABASE_URL", None)
    env.pop("PROJECTOR_DATABASE_URL", None)
    return env


async def _cli(owner_dsn: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        "reactions",
        *args,
        env=_env(owner_dsn),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def test_run_starts_and_stops_on_sigterm(owner_dsn: str) -> None:
    proc = await _cli(owner_dsn, "run")
    assert proc.stdout is not None
    try:
        seen = []
        while not seen or b"reactions_started" not in seen[-1]:  # after the plugins load
            seen.append(await asyncio.wait_for(proc.stdout.readline(), 90))
            assert seen[-1], seen
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, output.decode()


async def test_status_lists_every_reaction(owner_dsn: str) -> None:
    proc = await _cli(owner_dsn, "status")
    output, _ = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, output.decode()
    assert output.decode().split()[0] == "appointment-reminder"
