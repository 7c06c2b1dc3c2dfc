"""Crash safety of the Kafka path with real processes: `caretrail relay` and `caretrail project`
are killed with SIGKILL while commands keep arriving, restarted, and in the end the read models
equal a clean rebuild from the store: no event lost, none applied twice."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys

import asyncpg
import httpx
from infra import fresh_database, kafka_broker
from support import FAKEPAY_SECRET, JWT_SECRET, new_tenant
from workload import workload

from backend.bootstrap import Resources, create_app
from backend.catalog import READ_MODELS as ALL
from backend.eventstore import EventStore
from backend.eventstore.db import create_pool
from backend.settings import Settings, with_user
from projections.rebuild import rebuild


async def _start(command: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        command,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _snapshot(pool: asyncpg.Pool) -> dict[str, list[asyncpg.Record]]:
    return {
        p.table: await pool.fetch(
            f"SELECT * FROM {p.table} ORDER BY 1, 2"  # key: (tenant_id, second column)
        )
        for p in ALL
    }


async def _caught_up(pool: asyncpg.Pool, last: int) -> bool:
    """Every projection's partitions together have applied every event up to `last` (each
    partition's effective progress: its own row's, or its group's)."""
    relayed = await pool.fetchval("SELECT count(*) FROM events WHERE position <= $1", last)
    for p in ALL:
        applied = await pool.fetchval(
            "SELECT count(*) FROM events e JOIN projection_partition_progress pp"
            " ON pp.name = $1 AND (e.tx_id, e.position) <= (pp.tx_id, pp.position)"
            " AND pp.partition = stream_partition(e.stream_id, 3)"
            " WHERE e.position <= $2",
            p.name,
            last,
        )
        if applied != relayed:
            return False
    return True


async def _wait_caught_up(pool: asyncpg.Pool, last: int) -> None:
    for _ in range(600):
        if await _caught_up(pool, last):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the Kafka path did not catch up after the crashes")


async def test_killed_relay_and_projector_lose_and_repeat_nothing() -> None:
    async with fresh_database() as owner_dsn:
        with kafka_broker() as bootstrap:
            await _scenario(owner_dsn, bootstrap)


async def _scenario(owner_dsn: str, bootstrap: str) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": owner_dsn,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_PARTITIONS": "3",
        "CARETRAIL_ENV": "test",
        "CARETRAIL_JWT_SECRET": JWT_SECRET,
    }
    settings = Settings(
        CARETRAIL_ENV="test",
        CARETRAIL_JWT_SECRET=JWT_SECRET,
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        CARETRAIL_PAYMENT_WEBHOOK_SECRETS={"fakepay": FAKEPAY_SECRET},  # the workload pays
    )
    app_pool = await create_pool(with_user(owner_dsn, "caretrail_app"))
    projector_pool = await create_pool(with_user(owner_dsn, "caretrail_projector"))
    app = create_app(settings, Resources(owner_dsn, app_pool, EventStore(app_pool), projector_pool))
    rng = random.Random(11)
    processes = {c: await _start(c, env) for c in ("relay", "project")}
    try:
        async with app.router.lifespan_context(app), _client(app) as client:
            tenants = [await new_tenant(client) for _ in range(3)]
            writing = asyncio.create_task(workload(client, tenants))
            kills = 0
            while not writing.done() or kills < 4:
                await asyncio.sleep(rng.uniform(0.3, 1.0))
                victim = rng.choice(sorted(processes))
                processes[victim].send_signal(signal.SIGKILL)
                await processes[victim].wait()
                processes[victim] = await _start(victim, env)
                kills += 1
            last = await writing
            # Read-your-writes through the Kafka path: the API waits on the partition progress.
            headers = tenants[0].as_role("RECEPTIONIST")
            body = {
                "given_name": "K",
                "family_name": "Kafka",
                "birth_date": "1999-09-09",
                "sex": "male",
            }
            created = (await client.post("/v1/patients", json=body, headers=headers)).json()
            for _ in range(6):  # a freshly restarted projector may first need to join its group
                read = await client.get(
                    f"/v1/patients/{created['id']}",
                    params={"min_position": created["position"]},
                    headers=headers,
                )
                if read.status_code != 503:
                    break
                await asyncio.sleep(int(read.headers["Retry-After"]))
            assert read.status_code == 200, read.text
            assert int(read.headers["X-Projection-Position"]) > 0
            await _wait_caught_up(projector_pool, max(last, created["position"]))
        # The reactions and the notification dispatcher (stopped with the lifespan) wrote after
        # the workload: wait for everything the store now holds.
        await _wait_caught_up(
            projector_pool, await projector_pool.fetchval("SELECT max(position) FROM events")
        )
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
            await process.wait()
        kafka_built = await _snapshot(projector_pool)
        assert all(kafka_built.values())
        projector_dsn = with_user(owner_dsn, "caretrail_projector")
        for projection in ALL:
            await rebuild(owner_dsn, projector_dsn, projection, lambda *_: None)
        assert await _snapshot(projector_pool) == kafka_built
    finally:
        for process in processes.values():
            if process.returncode is None:
                process.kill()
                await process.wait()
        await app_pool.close()
        await projector_pool.close()


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")  # type: ignore[arg-type]
