"""Catch-up projections on the real store: read models equal folded state, re-delivery changes
nothing, a failing handler parks its projection with the error visible, resume retries it."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import httpx
import pytest
from e2e_helpers import create_patient
from infra import stored_events
from support import METRICS_TOKEN, TenantFixture, bearer, new_tenant
from workload import wait_caught_up, workload

from backend.catalog import READ_MODELS as ALL
from backend.eventstore import ANY, EventStore, NewEvent, RecordedEvent, StreamAppend
from backend.eventstore.db import connect
from backend.kernel.aggregate import Aggregate
from backend.kernel.events import revive
from backend.patients.model import PATIENT
from backend.privacy import keys
from backend.scheduling.daily_activity import COUNTED
from backend.scheduling.model import APPOINTMENT
from backend.tenancy.model import PRACTITIONER
from projections import tracking
from projections.catchup import CatchUpGroup, CatchUpRunner
from projections.tracking import resume

SORTED = {"rm_patients": "patient_id", "rm_practitioners": "practitioner_id"}


async def _folded(
    owner: asyncpg.Connection, aggregate: Aggregate[Any], tenants: set[uuid.UUID]
) -> dict[tuple[uuid.UUID, uuid.UUID], tuple[dict[str, Any], int]]:
    stored = await stored_events(
        owner, "stream_type = $1 AND tenant_id = ANY($2)", aggregate.stream_type, list(tenants)
    )
    events = await keys.unseal(owner, stored)  # a stream's events stay in version order
    streams: dict[tuple[uuid.UUID, uuid.UUID], list[RecordedEvent]] = {}
    for e in events:
        streams.setdefault((e.tenant_id, e.stream_id), []).append(e)
    return {
        key: (aggregate.view(aggregate.fold(revive(e) for e in evs)), evs[-1].version)
        for key, evs in streams.items()
    }


async def test_read_models_equal_state_folded_from_the_store(
    client: httpx.AsyncClient, projector_pool: asyncpg.Pool, owner_dsn: str
) -> None:
    tenants = [await new_tenant(client) for _ in range(3)]
    last = await workload(client, tenants)
    await wait_caught_up(projector_pool, last)
    ids = {t.id for t in tenants}
    owner = await connect(owner_dsn)
    try:
        for aggregate, table, key in (
            (PATIENT, "rm_patients", "patient_id"),
            (PRACTITIONER, "rm_practitioners", "practitioner_id"),
            (APPOINTMENT, "rm_appointments", "appointment_id"),
        ):
            expected = await _folded(owner, aggregate, ids)
            projection = next(p for p in ALL if p.table == table)
            rows = await projector_pool.fetch(
                f"SELECT * FROM {table} WHERE tenant_id = ANY($1)", list(ids)
            )
            actual = {
                (r["tenant_id"], r[key]): (
                    aggregate.view(projection.from_row(r)),
                    r["version"],
                )
                for r in rows
            }
            assert actual == expected, table
            assert len(actual) > 0
    finally:
        await owner.close()


async def test_daily_activity_counts_every_event_once(
    projector_pool: asyncpg.Pool, owner_dsn: str
) -> None:
    """Counters are only right if each event was applied exactly once."""
    owner = await connect(owner_dsn)
    try:
        truth = await owner.fetch(
            "SELECT tenant_id, (occurred_at AT TIME ZONE 'UTC')::date AS day, event_type,"
            " count(*) AS n FROM events WHERE stream_type = 'appointment'"
            " GROUP BY 1, 2, 3"
        )
    finally:
        await owner.close()
    expected: dict[tuple[Any, Any], dict[str, int]] = {}
    for r in truth:
        column = COUNTED.get(r["event_type"])
        if column:
            expected.setdefault((r["tenant_id"], r["day"]), {})[column] = r["n"]
    rows = await projector_pool.fetch("SELECT * FROM rm_daily_activity")
    actual = {(r["tenant_id"], r["day"]): {c: r[c] for c in COUNTED.values() if r[c]} for r in rows}
    assert expected and actual == expected


async def test_redelivered_events_change_nothing(projector_pool: asyncpg.Pool) -> None:
    """Replaying every event from the start into the live read models leaves them unchanged."""
    before = await projector_pool.fetch("SELECT * FROM rm_patients ORDER BY tenant_id, patient_id")
    events = await projector_pool.fetch(
        "SELECT position FROM events WHERE stream_type = 'patient' ORDER BY position LIMIT 1"
    )
    assert events, "needs the workload of the test above"
    replay = _Replay(next(p for p in ALL if p.table == "rm_patients"))
    runner = CatchUpRunner(projector_pool, replay, batch_size=100)
    while await runner.step():
        pass
    after = await projector_pool.fetch("SELECT * FROM rm_patients ORDER BY tenant_id, patient_id")
    assert replay.applied > 0
    assert after == before


async def test_a_streams_first_event_delivered_again_alone_moves_no_row_back(
    client: httpx.AsyncClient, tenant: TenantFixture, projector_pool: asyncpg.Pool
) -> None:
    """A batch that begins a stream folds it without reading its row (there is none, unless the
    batch is delivered again): a row already further on stays as it is."""
    patients = next(p for p in ALL if p.table == "rm_patients")
    patient = await create_patient(client, tenant)
    r = await client.patch(
        f"/v1/patients/{patient['id']}",
        json={"email": "again@example.org"},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert r.status_code == 200, r.text
    await wait_caught_up(projector_pool, r.json()["position"])
    key = (tenant.id, uuid.UUID(patient["id"]))
    row = "SELECT * FROM rm_patients WHERE tenant_id = $1 AND patient_id = $2"
    before = await projector_pool.fetchrow(row, *key)
    assert before is not None and before["version"] == 2
    first = await stored_events(
        projector_pool, "tenant_id = $1 AND stream_id = $2 AND version = 1", *key
    )
    async with projector_pool.acquire() as conn, conn.transaction():
        await patients.apply(conn, first)
    assert await projector_pool.fetchrow(row, *key) == before


async def test_the_members_of_a_batch_share_one_opening_of_its_sealed_events(
    client: httpx.AsyncClient, projector_pool: asyncpg.Pool
) -> None:
    """Within `keys.opening_once` (a catch-up batch), an event is opened once: a second
    unsealing member gets what the first opened, and asks for no key."""
    tenant = await new_tenant(client)
    for _ in range(3):
        await create_patient(client, tenant)
    events = await stored_events(
        projector_pool, "tenant_id = $1 AND stream_type = 'patient'", tenant.id
    )
    assert len(events) == 3 and all("sealed" in e.data for e in events)
    async with projector_pool.acquire() as conn:
        with keys.opening_once():
            first = await keys.unseal(conn, events)
            again = await keys.unseal(conn, events[::-1])
        alone = await keys.unseal(conn, events)
    assert all(a is b for a, b in zip(first, again[::-1], strict=True))
    assert not any(a is b for a, b in zip(first, alone, strict=True))
    assert [e.data for e in first] == [e.data for e in alone]
    assert all("sealed" not in e.data for e in first)


class _Replay:
    """The patients projection under another name, so it starts again from position zero."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = f"replay-{uuid.uuid4().hex[:8]}"
        self.applied = 0

    def wants(self, stream_type: str, event_type: str) -> bool:
        return bool(self.inner.wants(stream_type, event_type))

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        self.applied += len(events)
        await self.inner.apply(conn, events)


class _Fragile:
    """Records probe events of one tenant in `probe_seen` (in the projection's transaction, like
    any read model) and fails on the ones marked poison while `broken`."""

    def __init__(self, tenant: uuid.UUID) -> None:
        self.name = f"fragile-{uuid.uuid4().hex[:8]}"
        self.tenant = tenant
        self.broken = True

    def wants(self, stream_type: str, event_type: str) -> bool:
        return stream_type == "probe"

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            if event.tenant_id != self.tenant:
                continue
            if event.data.get("poison") and self.broken:
                msg = "cannot digest this"
                raise ValueError(msg)
            await conn.execute(
                "INSERT INTO probe_seen (projection, n) VALUES ($1, $2)", self.name, event.data["n"]
            )

    async def seen(self, pool: asyncpg.Pool) -> list[int]:
        rows = await pool.fetch(
            "SELECT n FROM probe_seen WHERE projection = $1 ORDER BY seq", self.name
        )
        return [r["n"] for r in rows]


@pytest.fixture(scope="module", autouse=True)
async def probe_table(owner_dsn: str) -> None:
    owner = await asyncpg.connect(owner_dsn)
    await owner.execute(
        "CREATE TABLE IF NOT EXISTS probe_seen (seq bigint GENERATED ALWAYS AS IDENTITY,"
        " projection text NOT NULL, n int NOT NULL);"
        " GRANT SELECT, INSERT ON probe_seen TO caretrail_projector"
    )
    await owner.close()


async def test_a_failing_handler_parks_and_resume_retries(
    store: EventStore, projector_pool: asyncpg.Pool
) -> None:
    tenant, stream = uuid.uuid4(), uuid.uuid4()

    def probe(n: int, poison: bool = False) -> NewEvent:
        return NewEvent(uuid.uuid4(), "Probe", {"n": n, "poison": poison}, dt.datetime.now(dt.UTC))

    await store.append(tenant, [StreamAppend("probe", stream, ANY, (probe(1), probe(2)))])
    bad = await store.append(tenant, [StreamAppend("probe", stream, ANY, (probe(3, True),))])
    await store.append(tenant, [StreamAppend("probe", stream, ANY, (probe(4),))])
    fragile = _Fragile(tenant)
    runner = CatchUpRunner(projector_pool, fragile, batch_size=10_000)
    while await runner.step():
        pass
    state = await projector_pool.fetchrow(
        "SELECT state, last_error, error_position FROM projection_checkpoints WHERE name = $1",
        fragile.name,
    )
    assert state["state"] == "parked"
    assert "cannot digest this" in state["last_error"]
    assert state["error_position"] == bad.position
    assert await fragile.seen(projector_pool) == [1, 2]  # those before the poison, once
    assert await runner.step() == 0  # parked: no retry loop, no skipping
    assert await fragile.seen(projector_pool) == [1, 2]

    assert await resume(projector_pool, fragile.name)
    fragile.broken = False
    while await runner.step():
        pass
    assert await fragile.seen(projector_pool) == [1, 2, 3, 4]
    assert (await runner.checkpoint()).state == "running"


async def test_two_runners_of_one_projection_apply_each_event_once(
    store: EventStore, projector_pool: asyncpg.Pool
) -> None:
    tenant = uuid.uuid4()
    for n in range(200):
        event = NewEvent(uuid.uuid4(), "Probe", {"n": n}, dt.datetime.now(dt.UTC))
        await store.append(tenant, [StreamAppend("probe", uuid.uuid4(), ANY, (event,))])
    fragile = _Fragile(tenant)
    runners = [CatchUpRunner(projector_pool, fragile, batch_size=7) for _ in range(2)]

    async def drain(runner: CatchUpRunner) -> None:
        idle = 0
        while idle < 3:
            idle = 0 if await runner.step() else idle + 1

    await asyncio.gather(*(drain(r) for r in runners))
    assert sorted(await fragile.seen(projector_pool)) == list(range(200))


async def test_status_reports_position_lag_and_state(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    r = await client.get("/v1/projections", headers=bearer(["PLATFORM_ADMIN"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["running"] is True
    names = {p["name"] for p in body["projections"]}
    assert {"patients", "practitioners", "appointments"} <= names
    for p in body["projections"]:
        assert p["state"] in ("running", "parked")
        assert p["lag_events"] >= 0 and p["lag_seconds"] >= 0
    for role in ("RECEPTIONIST", "CLINIC_ADMIN", "AUDITOR"):
        # Lag over every tenant and other tenants' error text are the platform's.
        denied = await client.get("/v1/projections", headers=tenant.as_role(role))
        assert denied.status_code == 403
        assert (await client.get("/v1/reactions", headers=tenant.as_role(role))).status_code == 403


async def test_metrics_need_the_scrape_token(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, bearer(["PLATFORM_ADMIN"])):
        r = await client.get("/metrics", headers=headers)
        assert r.status_code == 401, r.text
        assert r.json()["code"] == "UNAUTHENTICATED"
        assert "caretrail_" not in r.text


async def test_metrics_expose_projection_position_and_lag(client: httpx.AsyncClient) -> None:
    r = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    lines = r.text.splitlines()
    for name in ("patients", "practitioners", "appointments", "daily_activity"):
        assert any(
            line.startswith(f'caretrail_projection_lag_events{{projection="{name}"}}')
            for line in lines
        ), name
        assert f'caretrail_projection_parked{{projection="{name}"}} 0.0' in lines
    assert any(line.startswith("caretrail_oldest_write_transaction_seconds ") for line in lines)


async def test_metrics_expose_requests_runners_and_the_notification_backlog(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """HTTP requests by route template (ids never make a series), every runner's heartbeat,
    and how many notifications wait to be sent."""
    await client.get(f"/v1/patients/{uuid.uuid4()}", headers=tenant.as_role("NURSE"))
    await client.get(f"/no-such-route/{uuid.uuid4()}")
    r = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    lines = r.text.splitlines()
    missing = (
        'caretrail_http_requests_total{method="GET",route="/v1/patients/{patient_id}",status="404"}'
    )
    assert any(line.startswith(missing) for line in lines), r.text
    unmatched = 'caretrail_http_requests_total{method="GET",route="unmatched",status="404"}'
    assert any(line.startswith(unmatched) for line in lines)
    assert not any("/no-such-route/" in line for line in lines)
    latency = (
        "caretrail_http_request_duration_seconds_count"
        '{method="GET",route="/v1/patients/{patient_id}"}'
    )
    assert any(line.startswith(latency) for line in lines)
    assert 'caretrail_runner_up{kind="in-process",runner="projections"} 1.0' in lines
    assert 'caretrail_runner_up{kind="in-process",runner="reactions"} 1.0' in lines
    (due,) = [line for line in lines if line.startswith("caretrail_notifications_due ")]
    (oldest,) = [
        line for line in lines if line.startswith("caretrail_notifications_oldest_due_seconds ")
    ]
    count, waited = float(due.split()[1]), float(oldest.split()[1])
    assert count.is_integer() and (count == 0) == (waited == 0), (count, waited)


async def test_projections_in_a_group_park_alone_and_laggards_catch_up(
    store: EventStore, projector_pool: asyncpg.Pool
) -> None:
    """CatchUpGroup: one reading of the store and one transaction per batch for the group; a
    failing projection parks alone, and one that starts late reads on its own until it has
    caught up with the others, then joins them."""
    tenant, stream = uuid.uuid4(), uuid.uuid4()
    for n in range(30):
        event = NewEvent(
            uuid.uuid4(), "Probe", {"n": n, "poison": n == 12}, dt.datetime.now(dt.UTC)
        )
        await store.append(tenant, [StreamAppend("probe", stream, ANY, (event,))])
    broken, healthy, late = _Fragile(tenant), _Fragile(tenant), _Fragile(tenant)
    healthy.broken = late.broken = False
    group_name = f"test-{uuid.uuid4().hex[:8]}"
    group = CatchUpGroup(projector_pool, group_name, [broken, healthy], batch_size=5)
    await group.start()
    while await group.step():
        pass
    assert await healthy.seen(projector_pool) == list(range(30))
    assert await broken.seen(projector_pool) == list(range(12))
    rows = await tracking.read(projector_pool, [broken.name, healthy.name])
    assert rows[broken.name].state == "parked" and rows[broken.name].follows is None
    assert rows[healthy.name].follows == tracking.group_row(group_name)

    everyone = CatchUpGroup(projector_pool, group_name, [broken, healthy, late], batch_size=5)
    await everyone.start()
    while await everyone.step():
        pass
    assert await late.seen(projector_pool) == list(range(30))
    assert await healthy.seen(projector_pool) == list(range(30))  # nothing applied twice
    rows = await tracking.read(projector_pool, [late.name])
    assert rows[late.name].follows == tracking.group_row(group_name)  # caught up, joined

    assert await resume(projector_pool, broken.name)
    broken.broken = False
    while await everyone.step():
        pass
    assert await broken.seen(projector_pool) == list(range(30))
    rows = await tracking.read(projector_pool, [broken.name])
    assert rows[broken.name].follows == tracking.group_row(group_name)


class _CommitSetting:
    """Notes, for each batch of probe events of one tenant, how its transaction commits."""

    def __init__(self, tenant: uuid.UUID) -> None:
        self.name = f"commits-{uuid.uuid4().hex[:8]}"
        self.tenant = tenant
        self.noted: list[str] = []

    def wants(self, stream_type: str, event_type: str) -> bool:
        return stream_type == "probe"

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        if any(e.tenant_id == self.tenant for e in events):
            self.noted.append(await conn.fetchval("SELECT current_setting('synchronous_commit')"))


@pytest.mark.parametrize(("durable", "setting"), [(True, "on"), (False, "off")])
async def test_a_group_that_is_not_durable_commits_without_waiting_for_the_flush(
    store: EventStore, projector_pool: asyncpg.Pool, durable: bool, setting: str
) -> None:
    """Read models (durable false) commit their batches asynchronously; the reactions' group
    (the default) waits for the WAL flush, as the server is configured."""
    tenant, stream = uuid.uuid4(), uuid.uuid4()
    probe = _CommitSetting(tenant)
    group = CatchUpGroup(projector_pool, f"test-{uuid.uuid4().hex[:8]}", [probe], durable=durable)
    await group.start()
    for _ in range(2):  # the first reaches the member alone, the second through the group
        event = NewEvent(uuid.uuid4(), "Probe", {"n": 0}, dt.datetime.now(dt.UTC))
        await store.append(tenant, [StreamAppend("probe", stream, ANY, (event,))])
        while await group.step():
            pass
    assert probe.noted[-1] == setting
