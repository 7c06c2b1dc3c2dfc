"""Real services for tests: a fresh PostgreSQL database, a Kafka-protocol broker.

TEST_DATABASE_URL names an admin connection (default: the local server at 127.0.0.1:5432). If no
server answers there, an embedded PostgreSQL under .data/test is started instead, so the suite
runs on any machine. The broker is projections.local_broker (tansu, in memory).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from backend.eventstore.scratch import scratch_database
from projections.local_broker import free_port, local_kafka_broker

__all__ = ["free_port", "fresh_database", "kafka_broker"]
kafka_broker = local_kafka_broker


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new, migrated database (TEST_DATABASE_URL's server); its owner DSN."""
    async with scratch_database("TEST_DATABASE_URL", "test", "caretrail_test") as dsn:
        yield dsn
