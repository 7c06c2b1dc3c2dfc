"""The real server process: `caretrail serve` against an existing database, over TCP."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import httpx
from infra import answered, free_port, server_answer
from support import JWT_SECRET

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACED = {"X-Request-ID": "ready-1", "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}


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
            ready = await server_answer(client, settled=answered, seconds=90, headers=TRACED)
            assert ready is not None, "server did not start"
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"]["migrations"] == "ok"
            unauthenticated = await client.get("/v1/patients")
            assert unauthenticated.status_code == 401
            assert unauthenticated.headers["content-type"] == "application/problem+json"
    finally:
        proc.terminate()
        output, _ = await asyncio.wait_for(proc.communicate(), 10)
    lines = [json.loads(line) for line in output.decode().splitlines() if line.strip()]
    # Every line is JSON (the migration's and uvicorn's too) and names its request and trace.
    assert lines and all({"request_id", "trace_id", "level", "event"} <= e.keys() for e in lines)
    (ready_line,) = [e for e in lines if e.get("route") == "/health/ready"]
    assert (ready_line["status"], ready_line["request_id"]) == (200, "ready-1")
    assert ready_line["trace_id"] == TRACE_ID


async def test_serve_has_no_workers_option() -> None:
    """One process per `serve` (docs/operations.md, Scaling): an option that started one
    process whatever it said is refused rather than ignored."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        "serve",
        "--workers",
        "4",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 2
    assert b"unrecognized arguments: --workers 4" in output
