"""Read-your-writes under load, in both projection modes: 16 concurrent clients run commands that
write several streams (a booking: the appointment and the practitioner's day; an admission: the
admission and the ward; a sign-off) and read each one back at once with the position the command
returned. Every read must answer 200 with the write in it: zero misses.

The Kafka mode runs against the real broker, on a database of its own (one projection mode per
database), with the relay and a projector following a topic of its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from e2e_helpers import create_patient, create_practitioner
from fastapi import FastAPI
from infra import fresh_database, ok, server_answer
from support import TenantFixture, new_tenant

from backend import catalog
from backend.bootstrap import Resources, create_app
from backend.eventstore import EventStore
from backend.eventstore.db import create_pool
from backend.processes import ensure_topic
from backend.settings import Settings, with_user
from projections.kafka_runner import KafkaProjector
from projections.relay import Relay

CLIENTS = 16
ROUNDS = 8
PARTITIONS = 3


@dataclass
class Tally:
    reads: int = 0
    misses: list[str] = field(default_factory=list)
    waits_ms: list[float] = field(default_factory=list)


async def _read_back(
    client: httpx.AsyncClient,
    tally: Tally,
    url: str,
    position: int,
    headers: dict[str, str],
    expect: dict[str, Any],
) -> None:
    began = time.perf_counter()
    r = await client.get(url, params={"min_position": position}, headers=headers)
    tally.waits_ms.append((time.perf_counter() - began) * 1000)
    tally.reads += 1
    body = r.json() if r.status_code == 200 else {}
    if r.status_code != 200 or any(body.get(k) != v for k, v in expect.items()):
        tally.misses.append(f"{url} at {position}: {r.status_code} {r.text[:200]}")
        return
    # The header is a token in the global order, not a number to compare: carried forward as
    # min_position, it gives a read at least as new as this one, at once.
    token = int(r.headers["X-Projection-Position"])
    again = await client.get(url, params={"min_position": token}, headers=headers)
    tally.reads += 1
    if again.status_code != 200 or any(again.json().get(k) != v for k, v in expect.items()):
        tally.misses.append(f"{url} at its own token {token}: {again.status_code}")


async def _client_day(
    client: httpx.AsyncClient, tenant: TenantFixture, ward: dict[str, Any], n: int, tally: Tally
) -> None:
    staff = tenant.as_role("CLINIC_ADMIN")
    doctor = await create_practitioner(client, tenant, name=f"Dr. {n}")
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=1 + n)
    for i in range(ROUNDS):
        patient = await create_patient(client, tenant)
        await _read_back(
            client,
            tally,
            f"/v1/patients/{patient['id']}",
            patient["position"],
            staff,
            {"family_name": patient["family_name"]},
        )
        slot = start + dt.timedelta(minutes=30 * i)
        body = {
            "patient_id": patient["id"],
            "practitioner_id": doctor["id"],
            "start": slot.isoformat(),
            "end": (slot + dt.timedelta(minutes=20)).isoformat(),
        }
        booked = await client.post("/v1/appointments", json=body, headers=staff)
        assert booked.status_code == 201, booked.text
        await _read_back(
            client,
            tally,
            f"/v1/appointments/{booked.json()['id']}",
            booked.json()["position"],
            staff,
            {"status": "requested"},
        )
        if i % 2 == 0:
            bed = f"{n}-{i}"
            admission = {"patient_id": patient["id"], "ward_id": ward["id"], "bed": bed}
            r = await client.post(
                "/v1/admissions", json={**admission, "reason": "observation"}, headers=staff
            )
            assert r.status_code == 201, r.text
            await _read_back(
                client,
                tally,
                f"/v1/admissions/{r.json()['id']}",
                r.json()["position"],
                staff,
                {"status": "admitted", "bed": bed},
            )
        else:
            await _signed_visit(client, tenant, patient["id"], doctor["id"], tally)


async def _signed_visit(
    client: httpx.AsyncClient, tenant: TenantFixture, patient: str, doctor: str, tally: Tally
) -> None:
    body = {"patient_id": patient, "practitioner_id": doctor, "reason": "cough"}
    visit = await client.post("/v1/visits", json=body, headers=tenant.as_role("RECEPTIONIST"))
    assert visit.status_code == 201, visit.text
    as_doctor = tenant.as_role("DOCTOR", actor=doctor)
    url = f"/v1/visits/{visit.json()['id']}"
    note = {"subjective": "s", "objective": "o", "assessment": "a", "plan": "p"}
    assert (await client.put(f"{url}/note", json=note, headers=as_doctor)).status_code == 200
    signed = await client.post(f"{url}/sign-off", headers=as_doctor)
    assert signed.status_code == 200, signed.text
    await _read_back(client, tally, url, signed.json()["position"], as_doctor, {"status": "signed"})


async def _run_day(client: httpx.AsyncClient) -> Tally:
    tenant = await new_tenant(client, kind="hospital")
    beds = [f"{n}-{i}" for n in range(CLIENTS) for i in range(0, ROUNDS, 2)]
    ward = await client.post(
        "/v1/wards", json={"name": "Load", "beds": beds}, headers=tenant.as_role("CLINIC_ADMIN")
    )
    assert ward.status_code == 201, ward.text
    tally = Tally()
    await asyncio.gather(
        *(_client_day(client, tenant, ward.json(), n, tally) for n in range(CLIENTS))
    )
    return tally


def _report(mode: str, tally: Tally) -> None:
    ordered = sorted(tally.waits_ms)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    print(
        f"\nread-your-writes {mode}: {len(tally.misses)} misses of {tally.reads} reads,"
        f" read p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms"
    )


async def test_every_read_at_its_commands_position_sees_it_in_process(
    client: httpx.AsyncClient,
) -> None:
    tally = await _run_day(client)
    _report("in-process", tally)
    assert tally.reads >= CLIENTS * ROUNDS * 2
    assert tally.misses == []


@pytest.fixture
async def kafka_app(
    settings: Settings, kafka_bootstrap: str
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The API as deployed with Kafka, on a database of its own, with its relay and projector
    following a topic of their own."""
    topic = f"caretrail.events.ryw-{uuid.uuid4().hex[:8]}"
    await ensure_topic(kafka_bootstrap, PARTITIONS, topic)
    kafka_settings = settings.model_copy(
        update={"kafka_bootstrap_servers": kafka_bootstrap, "kafka_partitions": PARTITIONS}
    )
    async with fresh_database() as owner:
        pool = await create_pool(with_user(owner, "caretrail_app"), max_size=12)
        projector_pool = await create_pool(with_user(owner, "caretrail_projector"), max_size=6)
        relay_pool = await create_pool(with_user(owner, "caretrail_relay"), max_size=2)
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, enable_idempotence=False, acks="all", linger_ms=2
        )
        await producer.start()
        stop = asyncio.Event()
        relay = Relay(relay_pool, producer, partitions=PARTITIONS, topic=topic)
        projector = KafkaProjector(
            projector_pool, catalog.READ_MODELS, kafka_bootstrap, group="ryw", topic=topic
        )
        tasks = [asyncio.create_task(relay.run(stop)), asyncio.create_task(projector.run(stop))]
        resources = Resources(owner, pool, EventStore(pool), projector_pool)
        app = create_app(kafka_settings, resources)
        try:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                    yield app, c
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await producer.stop()
            for p in (pool, projector_pool, relay_pool):
                await p.close()


async def test_every_read_at_its_commands_position_sees_it_through_kafka(
    kafka_app: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = kafka_app
    # Ready says when reads at the latest position would not wait: the projector has joined.
    ready = await server_answer(client, settled=ok, seconds=60)
    assert ready is not None and ready.status_code == 200, ready and ready.text
    tally = await _run_day(client)
    _report("kafka", tally)
    assert tally.reads >= CLIENTS * ROUNDS * 2
    assert tally.misses == []
