"""The suite against containers (testcontainers) instead of the local services, where a Docker
engine answers: `pytest --containers` (make test passes it) starts PostgreSQL, Kafka and Redis,
points TEST_DATABASE_URL, the Kafka fixture and CARETRAIL_REDIS_URL at them, and stops them at
the end. Where no engine answers (our build machines), the path is skipped: the run says so in
one line of its header and goes on against the local services; it never fails for that."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

POSTGRES_IMAGE = "postgres:16"
KAFKA_IMAGE = "apache/kafka:3.8.0"
REDIS_IMAGE = "redis:7"


@dataclass(frozen=True)
class Containers:
    kafka_bootstrap: str


def docker_engine() -> str | None:
    """Why there is no usable Docker engine here, or None when there is one."""
    try:
        import docker

        docker.from_env().ping()
    except Exception as e:  # no client library, no socket, no daemon: all mean "no engine"
        return type(e).__name__
    return None


@contextlib.contextmanager
def started() -> Iterator[Containers]:
    """PostgreSQL, Kafka and Redis containers, running while the context lasts, with the
    environment pointing the suite at them."""
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.community.redis import RedisContainer

    with (
        PostgresContainer(POSTGRES_IMAGE, driver=None) as postgres,
        KafkaContainer(KAFKA_IMAGE).with_kraft() as kafka,
        RedisContainer(REDIS_IMAGE) as redis,
    ):
        redis_url = f"redis://{redis.get_container_host_ip()}:{redis.get_exposed_port(6379)}/0"
        with _environment(
            TEST_DATABASE_URL=postgres.get_connection_url(), CARETRAIL_REDIS_URL=redis_url
        ):
            yield Containers(kafka.get_bootstrap_server())


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
