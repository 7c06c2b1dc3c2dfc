"""The Kafka deployment's own processes: `caretrail relay` and `caretrail project`.

Both run until SIGTERM or SIGINT and stop cleanly: the batch in flight finishes (or, if the
process is killed, is redone from the last checkpoint on restart).
"""

from __future__ import annotations

import asyncio
import signal

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from backend import catalog
from backend.eventstore.db import create_pool
from backend.eventstore.epochs import settled_epoch
from backend.privacy import keys
from backend.settings import Settings
from backend.start_up import freeze_start_up
from projections import mode as projection_mode
from projections.kafka_codec import TOPIC
from projections.kafka_runner import KafkaProjector
from projections.relay import Relay

log = structlog.get_logger("caretrail.processes")


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


def _bootstrap(settings: Settings) -> str:
    if not settings.kafka_bootstrap_servers or not settings.database_url:
        msg = "KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL must be set"
        raise SystemExit(msg)
    return settings.kafka_bootstrap_servers


async def ensure_topic(bootstrap: str, partitions: int, topic: str = TOPIC) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()


async def _claim_kafka_mode(pool: asyncpg.Pool, process: str) -> None:
    """Refuse to feed projections on a database whose projections run in-process."""
    try:
        await projection_mode.claim(pool, projection_mode.KAFKA, process)
    except projection_mode.ModeMismatch as e:
        await pool.close()
        raise SystemExit(f"{process}: {e}") from e


async def _settled_topic(
    pool: asyncpg.Pool, settings: Settings, bootstrap: str, stop: asyncio.Event
) -> str | None:
    """The store epoch's topic, once the epoch has settled, made if missing (None: stopped
    before it settled)."""
    epoch = await settled_epoch(pool, stop)
    if epoch is None:
        return None
    await ensure_topic(bootstrap, settings.kafka_partitions, epoch.kafka_topic)
    return epoch.kafka_topic


async def run_relay(settings: Settings) -> None:
    bootstrap = _bootstrap(settings)
    assert settings.database_url is not None
    stop = _stop_on_signals()
    pool = await create_pool(settings.relay_dsn(settings.database_url), min_size=1, max_size=2)
    await _claim_kafka_mode(pool, "caretrail relay")
    topic = await _settled_topic(pool, settings, bootstrap, stop)
    if topic is None:
        await pool.close()
        return
    # No linger: a step enqueues its whole batch before it first yields to the producer's
    # sender (aiokafka's send does not wait while metadata is known and a batch has room), so
    # lingering only delayed every batch by its 2 ms.
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=False, acks="all", linger_ms=0
    )
    await producer.start()
    log.info(
        "relay_started", bootstrap=bootstrap, partitions=settings.kafka_partitions, topic=topic
    )
    freeze_start_up()
    try:
        await Relay(pool, producer, partitions=settings.kafka_partitions, topic=topic).run(stop)
    finally:
        await producer.stop()
        await pool.close()


async def run_projector(settings: Settings) -> None:
    bootstrap = _bootstrap(settings)
    assert settings.database_url is not None
    stop = _stop_on_signals()
    pool = await create_pool(
        settings.projector_dsn(settings.database_url), max_size=catalog.projector_pool_size()
    )
    await _claim_kafka_mode(pool, "caretrail project")
    problem = await keys.master_key_problem(pool)
    if problem:
        await pool.close()
        raise SystemExit(f"caretrail project: {problem}")
    topic = await _settled_topic(pool, settings, bootstrap, stop)
    if topic is None:
        await pool.close()
        return
    projector = KafkaProjector(pool, catalog.READ_MODELS, bootstrap, topic=topic, durable=False)
    log.info("projector_started", projections=[p.name for p in catalog.READ_MODELS], topic=topic)
    freeze_start_up()
    try:
        await projector.run(stop)
    finally:
        await pool.close()
