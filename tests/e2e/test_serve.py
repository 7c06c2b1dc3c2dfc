"""The real server process: `caretrail serve` against an existing database, over TCP."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx
from infra import free_port
from support import JWT_SECRET


async def test_serve_migrates_and_answers_ready(owner_dsn: str) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": owner_dsn,
        "CARETRAIL_JWT_SECRET": JWT_SECRET,
        "CARETRAIL_ENV": "test",
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }
    env.pop("APP_DATABASE_URL", None)
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
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            ready = None
            for _ in range(100):
                try:
                    ready = await client.get("/health/ready")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            assert ready is not None, "server did not start"
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"]["migrations"] == "ok"
            unauthenticated = await client.get("/v1/patients")
            assert unauthenticated.status_code == 401
            assert unauthenticated.headers["content-type"] == "application/problem+json"
    finally:
        proc.terminate()
        output, _ = await asyncio.wait_for(proc.communicate(), 10)
    log_lines = [line for line in output.decode().splitlines() if '"event": "request"' in line]
    assert any('"route": "/health/ready"' in line and '"status": 200' in line for line in log_lines)
