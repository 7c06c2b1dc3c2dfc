"""The live queue across two API processes (`caretrail serve`, each with its own projections,
reactions and Redis subscription): a check-in through one reaches an SSE client of the other
within 500 ms, and a client that reconnects with Last-Event-ID misses nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID, uuid4

import httpx
from e2e_helpers import iso, midday_zone, now, patient_body
from infra import free_port, ok, server_answer
from support import JWT_SECRET, bearer

from backend.eventstore import ANY, EventStore, NewEvent, StreamAppend
from backend.kernel.events import to_data
from backend.scheduling.events import PatientCheckedIn


@asynccontextmanager
async def serving(owner_dsn: str) -> AsyncIterator[httpx.AsyncClient]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": owner_dsn,
        "CARETRAIL_JWT_SECRET": JWT_SECRET,
        "CARETRAIL_ENV": "test",
        "CARETRAIL_LOG_LEVEL": "WARNING",
        "PORT": str(port),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend.cli", "serve", env=env, stdout=asyncio.subprocess.DEVNULL
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            ready = await server_answer(client, settled=ok, seconds=90)
            assert ready is not None and ready.status_code == 200, ready and ready.text
            yield client
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


class Events:
    """An SSE client: the messages of one connection, as (id, event, data)."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    async def next(self) -> tuple[int, str, dict[str, Any]]:
        fields: dict[str, str] = {}
        async for line in self.lines:
            if line == "" and "data" in fields:
                return int(fields["id"]), fields["event"], json.loads(fields["data"])
            if line and not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value
        raise AssertionError("the stream ended")

    async def change_of(self, appointment_id: str) -> tuple[int, dict[str, Any]]:
        while True:
            position, kind, data = await asyncio.wait_for(self.next(), 10)
            if kind == "queue" and data["change"]["appointment_id"] == appointment_id:
                return position, data


async def confirmed_today(
    client: httpx.AsyncClient, desk: dict[str, str], practitioner_id: str, minutes: int
) -> str:
    r = await client.post(
        "/v1/patients",
        json=patient_body(),
        headers=desk,
    )
    assert r.status_code == 201, r.text
    start = now() + dt.timedelta(minutes=minutes)
    r = await client.post(
        "/v1/appointments",
        json={
            "patient_id": r.json()["id"],
            "practitioner_id": practitioner_id,
            "start": iso(start),
            "end": iso(start + dt.timedelta(minutes=5)),
        },
        headers=desk,
    )
    assert r.status_code == 201, r.text
    appointment_id: str = r.json()["id"]
    r = await client.post(f"/v1/appointments/{appointment_id}/confirm", headers=desk)
    assert r.status_code == 200, r.text
    return appointment_id


async def queue_clinic(client: httpx.AsyncClient) -> tuple[str, dict[str, str], str]:
    """A new tenant on a zone where it is midday (its appointments stay on its today): its id,
    a receptionist's headers and a practitioner's id."""
    r = await client.post(
        "/v1/tenants",
        json={"name": "Queue clinic", "slug": f"queue-{time.time_ns()}"},
        headers=bearer(["PLATFORM_ADMIN"]),
    )
    assert r.status_code == 201, r.text
    tenant_id: str = r.json()["id"]
    admin = bearer(["CLINIC_ADMIN"], tenant_id)
    r = await client.patch("/v1/tenant/policy", json={"timezone": midday_zone()}, headers=admin)
    assert r.status_code == 200, r.text
    r = await client.post("/v1/practitioners", json={"name": "Dr. Q"}, headers=admin)
    assert r.status_code == 201, r.text
    return tenant_id, bearer(["RECEPTIONIST"], tenant_id), r.json()["id"]


async def test_a_check_in_reaches_the_other_process_and_a_resume_misses_nothing(
    owner_dsn: str,
) -> None:
    async with serving(owner_dsn) as one, serving(owner_dsn) as other:
        _, desk, practitioner_id = await queue_clinic(one)
        first, second, third = [
            await confirmed_today(one, desk, practitioner_id, m) for m in (5, 10, 15)
        ]

        async with other.stream("GET", "/v1/queue/stream", headers=desk) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = Events(response)
            _, kind, _ = await events.next()
            assert kind == "snapshot"
            r = await one.post(f"/v1/appointments/{first}/check-in", headers=desk)
            assert r.status_code == 200, r.text
            committed = time.perf_counter()
            last_id, data = await events.change_of(first)
            latency = time.perf_counter() - committed
            assert latency < 0.5, latency
            assert last_id == r.json()["position"]
            (queue,) = data["queues"]
            assert [e["appointment_id"] for e in queue["waiting"]] == [first]

        # While disconnected: two more check-ins and a completion.
        positions = []
        for appointment_id, action in (
            (second, "check-in"),
            (third, "check-in"),
            (first, "complete"),
        ):
            r = await one.post(f"/v1/appointments/{appointment_id}/{action}", headers=desk)
            assert r.status_code == 200, r.text
            positions.append(r.json()["position"])

        resumed = {**desk, "Last-Event-ID": str(last_id)}
        async with other.stream("GET", "/v1/queue/stream", headers=resumed) as response:
            events = Events(response)
            replayed = [await asyncio.wait_for(events.next(), 10) for _ in positions]
        ids = [p for p, _, _ in replayed]  # each change's own event (a completion appends more)
        assert last_id < ids[0] <= positions[0] < ids[1] <= positions[1] < ids[2] <= positions[2]
        assert [d["change"]["appointment_id"] for _, _, d in replayed] == [second, third, first]
        (queue,) = replayed[-1][2]["queues"]
        assert [e["appointment_id"] for e in queue["waiting"]] == [second, third]
        assert [e["estimated_wait_min"] for e in queue["waiting"]] == [0, 5]


async def test_a_change_committing_behind_a_later_one_is_not_passed_over(
    owner_dsn: str, store: EventStore
) -> None:
    """A check-in takes its position, then commits after a later check-in has committed. A
    client that resumes in between is replayed the later one only once the earlier has
    committed, and then both, in that order: a replay that took positions for the order sent
    the later one, then passed over the earlier when it came (it was behind the id sent)."""
    async with serving(owner_dsn) as one:
        tenant_id, desk, practitioner_id = await queue_clinic(one)
        first, second, third = [
            await confirmed_today(one, desk, practitioner_id, m) for m in (5, 10, 15)
        ]
        r = await one.post(f"/v1/appointments/{first}/check-in", headers=desk)
        assert r.status_code == 200, r.text
        last_id = r.json()["position"]

        tenant = UUID(tenant_id)
        checked_in = PatientCheckedIn(UUID(second), now(), None)
        late = NewEvent(uuid4(), checked_in.type_name(), to_data(checked_in), now())
        holding = store.transaction(tenant)
        conn = await holding.__aenter__()
        try:
            held = await store.append(
                tenant, [StreamAppend("appointment", UUID(second), ANY, (late,))], conn=conn
            )
            r = await one.post(f"/v1/appointments/{third}/check-in", headers=desk)
            assert r.status_code == 200, r.text
            assert r.json()["position"] > held.position
            resumed = {**desk, "Last-Event-ID": str(last_id)}
            async with one.stream("GET", "/v1/queue/stream", headers=resumed) as response:
                events = Events(response)
                pending = asyncio.ensure_future(events.next())
                await asyncio.sleep(1.0)
                assert not pending.done()  # nothing is sent past a change still committing
                committing, holding = holding, None
                await committing.__aexit__(None, None, None)
                replayed = [await asyncio.wait_for(pending, 10)]
                replayed.append(await asyncio.wait_for(events.next(), 10))
        finally:
            if holding is not None:
                await holding.__aexit__(None, None, None)
        assert [(p, d["change"]["appointment_id"]) for p, _, d in replayed] == [
            (held.position, second),
            (r.json()["position"], third),
        ]
        (queue,) = replayed[-1][2]["queues"]
        assert [e["appointment_id"] for e in queue["waiting"]] == [first, second, third]
