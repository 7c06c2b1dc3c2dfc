"""The auditor's figures: state as_of a time on a 10,000-event stream (with snapshots, against a
full replay of the same stream side by side), and the NDJSON export of a million events through
the HTTP API (against a raw COPY of the same rows), with the export's memory growth."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import resource
import statistics
import time
import uuid
from dataclasses import replace

import asyncpg
import httpx
import uvicorn

from backend.auth.tokens import issue_token
from backend.bootstrap import Resources, create_app
from backend.eventstore import NO_STREAM, EventStore, NewEvent, StreamAppend
from backend.eventstore.db import connect, create_pool
from backend.eventstore.snapshots import write_snapshot
from backend.kernel import state_codec
from backend.kernel.events import revive, to_data
from backend.loading import fold_stream
from backend.patients.events import PatientDetailsChanged, PatientRegistered
from backend.patients.model import PATIENT
from backend.settings import Settings, with_user
from bench.common import report

INTERVAL = 100
SECRET = "bench-secret-0123456789abcdef0123456789"


async def as_of_latency(owner: str, events: int, queries: int) -> None:
    pool = await create_pool(with_user(owner, "caretrail_app"), max_size=2)
    try:
        store = EventStore(pool)
        tenant, patient = uuid.uuid4(), uuid.uuid4()
        moments = await _long_stream(store, tenant, patient, events)
        no_snapshots = replace(PATIENT, snapshot_version=-1)
        with_snapshots_ms: list[float] = []
        replay_ms: list[float] = []
        for _ in range(queries):
            moment = random.choice(moments)
            for aggregate, sink in ((PATIENT, with_snapshots_ms), (no_snapshots, replay_ms)):
                started = time.perf_counter()
                async with store.transaction(tenant) as conn:
                    await fold_stream(conn, aggregate, patient, recorded_by=moment)
                sink.append((time.perf_counter() - started) * 1000)
        full = _p95(replay_ms)
        report(f"as_of_full_replay_{events}_p95", full, "ms", full)
        report(f"as_of_snapshot_{events}_p95", _p95(with_snapshots_ms), "ms", full)
    finally:
        await pool.close()


async def _long_stream(
    store: EventStore, tenant: uuid.UUID, patient: uuid.UUID, events: int
) -> list[dt.datetime]:
    """A patient with `events` events, appended a hundred at a time with a snapshot after each
    hundred (as commands write them); the recording time of each append."""
    registered = PatientRegistered(
        patient, "Ada", "Byron", dt.date(1815, 12, 10), "female", None, None, {}, None
    )
    pending = [registered] + [
        PatientDetailsChanged(patient, {"family_name": f"Lovelace {n}"}) for n in range(events - 1)
    ]
    state, version, moments = PATIENT.initial(), 0, []
    for start in range(0, events, INTERVAL):
        batch = pending[start : start + INTERVAL]
        new = tuple(
            NewEvent(uuid.uuid4(), e.type_name(), to_data(e), dt.datetime.now(dt.UTC))
            for e in batch
        )
        expected = version if version else NO_STREAM
        async with store.transaction(tenant) as conn:
            await store.append(tenant, [StreamAppend("patient", patient, expected, new)], conn)
            for event in batch:
                state = PATIENT.evolve(state, event)
            version += len(batch)
            encoded = state_codec.encode(state)
            await write_snapshot(
                conn, tenant, "patient", patient, version, PATIENT.snapshot_version, encoded
            )
            moments.append(await conn.fetchval("SELECT max(recorded_at) FROM events"))
    async with store.transaction(tenant) as conn:
        rows = await store.read_stream(conn, "patient", patient)
    assert PATIENT.fold(revive(r) for r in rows) == state
    return moments


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


async def export_throughput(owner: str, events: int) -> None:
    tenant = uuid.uuid4()
    conn = await connect(owner)
    try:
        await _seed(conn, tenant, events)
        started = time.perf_counter()
        raw = await conn.copy_from_query(
            "SELECT position, event_id, stream_type, stream_id, version, event_type,"
            " schema_version, data, metadata, occurred_at, recorded_at, metadata->'actor',"
            " metadata->'roles', metadata->'request_id', metadata->'correlation_id',"
            " metadata->'causation_id', metadata->'plugins', encode(hash, 'hex')"
            " FROM events WHERE tenant_id = $1 ORDER BY recorded_at, position",
            tenant,
            output=_discard,
        )
        raw_rate = events / (time.perf_counter() - started)
        assert raw == f"COPY {events}", raw
    finally:
        await conn.close()
    rate, lines, growth_mb = await _export_over_http(owner, tenant)
    assert lines == events, (lines, events)
    report("raw_copy_out", raw_rate, "events/s", raw_rate)
    report(f"audit_export_{events}", rate, "events/s", raw_rate)
    print(f"# audit export: max RSS grew {growth_mb:.1f} MB over {events} events", flush=True)


async def _discard(_: bytes) -> None:
    return None


async def _seed(conn: asyncpg.Connection, tenant: uuid.UUID, events: int) -> None:
    """`events` registrations (one stream each) inserted by the database itself, chained by its
    trigger like every event."""
    for start in range(0, events, 100_000):
        await conn.execute(
            "INSERT INTO events (event_id, tenant_id, stream_type, stream_id, version, event_type,"
            " data, metadata, occurred_at)"
            " SELECT gen_random_uuid(), $1, 'patient', id, 1, 'PatientRegistered',"
            "   jsonb_build_object('patient_id', id, 'given_name', 'Given' || n,"
            "     'family_name', 'Family' || n, 'birth_date', '1980-01-01', 'sex', 'unknown',"
            "     'phone', '+1 555 0100', 'email', NULL, 'specialty_data', '{}'::jsonb),"
            "   jsonb_build_object('actor', 'bench', 'roles', jsonb_build_array('NURSE')), now()"
            " FROM (SELECT gen_random_uuid() AS id, n FROM generate_series($2::int, $3::int) n) s",
            tenant,
            start,
            min(start + 100_000, events) - 1,
        )


async def _export_over_http(owner: str, tenant: uuid.UUID) -> tuple[float, int, float]:
    """Stream the export from a real server on a loopback port; lines/s and max-RSS growth."""
    # Projections are not started (as when Kafka feeds them): catching up on a million seeded
    # events would compete with the export being measured.
    settings = Settings(
        CARETRAIL_ENV="test", CARETRAIL_JWT_SECRET=SECRET, KAFKA_BOOTSTRAP_SERVERS="unused:9092"
    )
    pool = await create_pool(with_user(owner, "caretrail_app"), max_size=4)
    projector = await create_pool(with_user(owner, "caretrail_projector"), max_size=2)
    app = create_app(settings, Resources(owner, pool, EventStore(pool), projector))
    server = uvicorn.Server(uvicorn.Config(app, port=0, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
            await asyncio.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        token = issue_token(SECRET, actor="auditor", roles=["AUDITOR"], tenant_id=tenant)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        lines = 0
        started = time.perf_counter()
        async with (
            httpx.AsyncClient(timeout=None) as client,
            client.stream(
                "GET",
                f"http://127.0.0.1:{port}/v1/audit/export",
                params={"from": "2000-01-01T00:00:00Z"},
                headers={"Authorization": f"Bearer {token}"},
            ) as response,
        ):
            response.raise_for_status()
            async for chunk in response.aiter_bytes():
                lines += chunk.count(b"\n")
        elapsed = time.perf_counter() - started
        growth_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        return lines / elapsed, lines, growth_kb / 1024
    finally:
        server.should_exit = True
        await task
        await pool.close()
        await projector.close()
