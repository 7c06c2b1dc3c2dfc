"""HTTP figures: `POST /v1/patients` through a real `caretrail serve` (projections and reactions
running in-process, as `make run` serves) against the bare endpoint of bench/bare_endpoint.py,
both driven by wrk with the same connections, rounds alternating so machine noise hits both.

Beside throughput and p99 latency it prints what a command costs: PostgreSQL commits per command
(`pg_stat_database.xact_commit` of the API's database over its rounds, every process counted: the
command, projections, reactions and their polling; the bare endpoint writes to a database of its
own) and the server process's CPU per request.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from backend.auth.tokens import issue_token
from bench.common import analyse, bench_database, report
from projections.local_broker import free_port

SECRET = "bench-http-secret-" + "x" * 32
BODY = (
    '{"given_name": "Ada", "family_name": "Lovelace", "birth_date": "1980-12-10",'
    ' "sex": "female", "email": "ada@example.org"}'
)
STATS_SETTLE_SECONDS = 11.0
"""PostgreSQL backends flush their counters at least every 10 s when idle."""


@dataclass(frozen=True)
class Load:
    requests: int
    non_2xx: int
    per_second: float
    p99_ms: float


@dataclass(frozen=True)
class Server:
    process: asyncio.subprocess.Process
    port: int

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(owner: str, seconds: float, rounds: int, connections: list[int]) -> None:
    wrk = shutil.which("wrk")
    if wrk is None:
        print("# http: wrk is not installed (apt-get install wrk); skipped", flush=True)
        return
    # The bare endpoint writes to a database of its own: the API's commits are counted alone.
    async with bench_database() as bare_db, _bare(bare_db) as bare, _api(owner) as (api, token):
        await _established(owner, wrk, api.port, token, seconds)
        for c in connections:
            bare_loads, api_loads = [], []
            api_cpu = bare_cpu = 0.0
            commits_before = await _commits(owner)
            for _ in range(rounds):
                started = bare.cpu_seconds()
                bare_loads.append(await _wrk(wrk, bare.port, token, c, seconds))
                bare_cpu += bare.cpu_seconds() - started
                started = api.cpu_seconds()
                api_loads.append(await _wrk(wrk, api.port, token, c, seconds))
                api_cpu += api.cpu_seconds() - started
            await asyncio.sleep(STATS_SETTLE_SECONDS)
            commits = await _commits(owner) - commits_before
            _report(c, bare_loads, api_loads, commits, bare_cpu, api_cpu)


def _report(
    c: int, bare: list[Load], api: list[Load], commits: int, bare_cpu: float, api_cpu: float
) -> None:
    bare_rate = statistics.median(x.per_second for x in bare)
    api_rate = statistics.median(x.per_second for x in api)
    bare_p99 = statistics.median(x.p99_ms for x in bare)
    api_p99 = statistics.median(x.p99_ms for x in api)
    bare_done = sum(x.requests for x in bare)
    api_done = sum(x.requests - x.non_2xx for x in api)
    refused = sum(x.non_2xx for x in api) + sum(x.non_2xx for x in bare)
    report(f"http_bare_c{c}", bare_rate, "requests/s", bare_rate)
    report(f"http_api_c{c}", api_rate, "commands/s", bare_rate)
    report(f"http_bare_p99_c{c}", bare_p99, "ms", bare_p99)
    report(f"http_api_p99_c{c}", api_p99, "ms", bare_p99)
    # The bare endpoint commits once per request by construction: the baseline of 1.
    report(f"http_api_commits_per_command_c{c}", commits / max(api_done - 0, 1), "commits", 1.0)
    bare_ms = 1000 * bare_cpu / max(bare_done, 1)
    report(f"http_bare_cpu_per_request_c{c}", bare_ms, "ms", bare_ms)
    report(f"http_api_cpu_per_command_c{c}", 1000 * api_cpu / max(api_done, 1), "ms", bare_ms)
    if refused:
        print(f"# http c{c}: {refused} answers were not 2xx", flush=True)


async def _established(owner: str, wrk: str, port: int, token: str, seconds: float) -> None:
    """The clinic's first patients registered (an untimed round at 16 connections), then the
    database analysed, as autovacuum would have by then. This machine's PostgreSQL runs without
    autovacuum: the planner went on seeing the clinic as it was when the first plans were made
    (no rows) for the whole run, and the connections' cached plans walked the clinic's rows for
    what an index finds (the registration's duplicate check, `enter_tenant`, the projections'
    key query), a cost growing with every patient registered (auto_explain: `enter_tenant`
    5.5 ms at 57,000 events)."""
    await _wrk(wrk, port, token, 16, seconds)
    await analyse(owner)


async def _commits(owner: str) -> int:
    conn = await asyncpg.connect(owner)
    try:
        value: int = await conn.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
        return value
    finally:
        await conn.close()


async def _wrk(wrk: str, port: int, token: str, connections: int, seconds: float) -> Load:
    """Each request registers another patient (a name and birth date of its own): the same
    patient sent again and again is a duplicate of all the others, which the registration's
    possible-duplicate check would then read and compare every time (a clinic's desk does
    not register one person thousands of times). Each wrk thread seeds its own random numbers
    from this run's seed: unseeded, every thread of every run drew the same sequence and
    registered the same few thousand patients again and again (5,312 rows held 1,429 names),
    and the birth date's year, month and day are drawn apart (derived from one number, they
    took 1,680 values)."""
    script = (
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
        f"local template = [[{BODY}]]\n"
        "local threads = 0\n"
        "function setup(thread)\n"
        "  threads = threads + 1\n"
        f'  thread:set("seed", {secrets.randbelow(2**31)} + threads * 7919)\n'
        "end\n"
        "function init(args)\n"
        "  math.randomseed(seed)\n"
        "end\n"
        "request = function()\n"
        "  local n = math.random(1, 2000000000)\n"
        "  local born = string.format(\n"
        '    "%04d-%02d-%02d", math.random(1930, 2009), math.random(1, 12), math.random(1, 28)\n'
        "  )\n"
        '  local body = template:gsub("Lovelace", "Lovelace" .. n):gsub("1980%-12%-10", born)\n'
        "  return wrk.format(nil, nil, nil, body)\n"
        "end\n"
    )
    return await wrk_load(wrk, port, "/v1/patients", script, connections, seconds)


async def wrk_load(
    wrk: str, port: int, path: str, script: str, connections: int, seconds: float
) -> Load:
    """wrk against `path` with a Lua `script` that sets the request up."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as f:
        f.write(script)
        f.flush()
        proc = await asyncio.create_subprocess_exec(
            wrk,
            f"-t{min(connections, 2)}",
            f"-c{connections}",
            f"-d{seconds:.0f}s",
            "--latency",
            "-s",
            f.name,
            f"http://127.0.0.1:{port}{path}",
            stdout=asyncio.subprocess.PIPE,
        )
        out = (await proc.communicate())[0].decode()
    return _parse(out)


def _parse(out: str) -> Load:
    def number(pattern: str, default: str | None = None) -> str:
        match = re.search(pattern, out)
        if match is None:
            if default is not None:
                return default
            raise RuntimeError(f"wrk output not understood:\n{out}")
        return match.group(1)

    p99, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return Load(
        requests=int(number(r"(\d+) requests in")),
        non_2xx=int(number(r"Non-2xx or 3xx responses: (\d+)", "0")),
        per_second=float(number(r"Requests/sec:\s+([\d.]+)")),
        p99_ms=float(p99) * scale,
    )


async def _start(args: list[str], env: dict[str, str], port: int) -> Server:
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, env={**os.environ, **env, "PORT": str(port)}
    )
    return Server(process, port)


async def _stop(server: Server) -> None:
    server.process.terminate()
    await asyncio.wait_for(server.process.wait(), 30)


async def _wait_until(port: int, path: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(600):
            try:
                if (await client.get(path)).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the server on port {port} did not come up")


@asynccontextmanager
async def _bare(owner: str) -> AsyncIterator[Server]:
    from bench.bare_endpoint import CREATE_TABLE

    conn = await asyncpg.connect(owner)
    await conn.execute(CREATE_TABLE)
    await conn.close()
    port = free_port()
    env = {"BENCH_DSN": owner, "BENCH_JWT_SECRET": SECRET}
    server = await _start(["-m", "bench.bare_endpoint"], env, port)
    try:
        await _wait_until(port, "/docs")
        yield server
    finally:
        await _stop(server)


@asynccontextmanager
async def _api(owner: str) -> AsyncIterator[tuple[Server, str]]:
    async with serve(owner) as server:
        yield server, await _receptionist_token(server.port)


@asynccontextmanager
async def serve(owner: str) -> AsyncIterator[Server]:
    """`caretrail serve` on `owner`'s database, as `make run` serves, tokens signed with
    SECRET."""
    port = free_port()
    env = {
        "DATABASE_URL": owner,
        "CARETRAIL_ENV": "test",
        "CARETRAIL_JWT_SECRET": SECRET,
        "CARETRAIL_LOG_LEVEL": "WARNING",
    }
    server = await _start(["-m", "backend.cli", "serve"], env, port)
    try:
        await _wait_until(port, "/health/ready")
        yield server
    finally:
        await _stop(server)


async def _receptionist_token(port: int) -> str:
    admin = issue_token(SECRET, actor="bench-admin", roles=["PLATFORM_ADMIN"], tenant_id=None)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        answer = await client.post(
            "/v1/tenants",
            json={"name": "Bench clinic", "slug": f"bench-{uuid.uuid4().hex[:8]}"},
            headers={"Authorization": f"Bearer {admin}"},
        )
        answer.raise_for_status()
    tenant = uuid.UUID(answer.json()["id"])
    return issue_token(SECRET, actor="bench-desk", roles=["RECEPTIONIST"], tenant_id=tenant)
