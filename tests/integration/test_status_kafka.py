"""Status and readiness from what the Kafka deployment's runners really record: a relay outage
and a projector outage each show as what they are (readiness 503 naming the stalled runner,
the relay's lag growing, the projections stalled), and both recover when the runner returns."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from e2e_helpers import create_patient
from infra import fresh_database
from support import METRICS_TOKEN, bearer, new_tenant

from backend import catalog
from backend.bootstrap import Resources, create_app
from backend.eventstore import EventStore
from backend.eventstore.db import create_pool
from backend.processes import ensure_topic
from backend.settings import Settings, with_user
from projections.kafka_runner import KafkaProjector
from projections.relay import Relay

PARTITIONS = 2
ADMIN = bearer(["PLATFORM_ADMIN"])


class _Runner:
    """A relay or projector task that a test can stop (an outage) and start again."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.make().run(self.stop))

    async def halt(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)


@asynccontextmanager
async def _kafka_deployment(
    settings: Settings, bootstrap: str
) -> AsyncIterator[tuple[httpx.AsyncClient, _Runner, _Runner]]:
    topic = f"caretrail.events.status-{uuid.uuid4().hex[:8]}"
    await ensure_topic(bootstrap, PARTITIONS, topic)
    kafka_settings = settings.model_copy(
        update={"kafka_bootstrap_servers": bootstrap, "kafka_partitions": PARTITIONS}
    )
    async with fresh_database() as owner:
        pool = await create_pool(with_user(owner, "caretrail_app"), max_size=4)
        projector_pool = await create_pool(with_user(owner, "caretrail_projector"), max_size=4)
        relay_pool = await create_pool(with_user(owner, "caretrail_relay"), max_size=2)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
        await producer.start()
        relay = _Runner(lambda: Relay(relay_pool, producer, partitions=PARTITIONS, topic=topic))
        projector = _Runner(
            lambda: KafkaProjector(projector_pool, catalog.READ_MODELS, bootstrap, topic=topic)
        )
        app = create_app(kafka_settings, Resources(owner, pool, EventStore(pool), projector_pool))
        relay.start()
        projector.start()
        try:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                    yield c, relay, projector
        finally:
            await relay.halt()
            await projector.halt()
            await producer.stop()
            for p in (pool, projector_pool, relay_pool):
                await p.close()


async def _until(client: httpx.AsyncClient, check: Callable[[httpx.Response], bool]) -> Any:
    """Poll readiness until `check` holds; its body then."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready = await client.get("/health/ready")
        if check(ready):
            return ready.json()
        await asyncio.sleep(0.25)
    raise AssertionError(f"never reached: {ready.text}")


async def _relay_once(
    client: httpx.AsyncClient, check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Poll status until the one relay's entry satisfies `check` (or 60 s pass); that entry."""
    deadline = time.monotonic() + 60
    while True:
        (relay,) = (await _status(client))["relays"]
        if check(relay) or time.monotonic() > deadline:
            return dict(relay)
        await asyncio.sleep(0.25)


async def _status(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/v1/projections", headers=ADMIN)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _metrics(client: httpx.AsyncClient) -> list[str]:
    r = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200, r.text
    return r.text.splitlines()


async def test_relay_and_projector_outages_show_in_status_and_readiness(
    settings: Settings, kafka_bootstrap: str
) -> None:
    async with _kafka_deployment(settings, kafka_bootstrap) as (client, relay, projector):
        await _until(client, lambda r: r.status_code == 200)
        tenant = await new_tenant(client)
        await create_patient(client, tenant)
        await _until(client, lambda r: r.status_code == 200)
        (published,) = (await _status(client))["relays"]
        assert (published["name"], published["state"]) == ("kafka", "running")

        # The relay stops: readiness names it, new events wait in its lag.
        await relay.halt()
        stalled = await _until(client, lambda r: "relay stalled" in r.text)
        assert stalled["status"] == "not ready"
        assert stalled["checks"]["projections"].startswith("relay stalled: kafka not seen for")
        await create_patient(client, tenant)
        status = await _status(client)
        (published,) = status["relays"]
        assert published["state"] == "stalled" and published["lag_events"] >= 1
        assert published["lag_seconds"] > 0
        # The projector is alive meanwhile: its projections are behind, not stalled.
        assert {p["state"] for p in status["projections"]} == {"running"}
        runners = {(r["kind"], r["name"]): r["state"] for r in status["runners"]}
        assert runners == {
            ("relay", "kafka"): "stalled",
            ("projector", "kafka"): "running",
            ("in-process", "reactions"): "running",  # reactions follow the store in the API
        }
        lines = await _metrics(client)
        assert 'caretrail_runner_up{kind="relay",runner="kafka"} 0.0' in lines
        assert 'caretrail_runner_up{kind="projector",runner="kafka"} 1.0' in lines
        (lag,) = [
            line for line in lines if line.startswith('caretrail_relay_lag_events{relay="kafka"}')
        ]
        assert float(lag.split()[-1]) >= 1

        relay.start()
        await _until(client, lambda r: r.status_code == 200)
        # Ready as soon as the relay is seen again; it then publishes what waited.
        published = await _relay_once(client, lambda r: r["lag_events"] == 0)
        assert (published["state"], published["lag_events"]) == ("running", 0)

        # The projector stops: its projections are stalled, readiness says so.
        await projector.halt()
        stalled = await _until(client, lambda r: "projector stalled" in r.text)
        assert stalled["status"] == "not ready"
        assert stalled["checks"]["projections"].startswith("projector stalled: kafka not seen for")
        assert {p["state"] for p in (await _status(client))["projections"]} == {"stalled"}
        assert 'caretrail_projection_stalled{projection="patients"} 1.0' in await _metrics(client)

        projector.start()
        await _until(client, lambda r: r.status_code == 200)
