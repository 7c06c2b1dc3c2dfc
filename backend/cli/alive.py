"""`caretrail alive KIND [NAME]`: a container health check for the processes that serve no HTTP
(the relay, a Kafka projector group, the reactions): exit 0 while the runner's heartbeat
(projections/liveness.py) is younger than STALLED_SECONDS, 1 otherwise, with one line saying
which. Several processes of one runner share its row: the check says the runner is fed, and a
replica that died exits, which its restart policy answers."""

from __future__ import annotations

import argparse

import asyncpg

from backend.eventstore.db import connect
from backend.settings import Settings
from projections import liveness

KINDS = {"relay": liveness.RELAY, "projector": liveness.PROJECTOR, "reactions": liveness.IN_PROCESS}
DEFAULT_NAMES = {"relay": "kafka", "projector": "kafka", "reactions": "reactions"}


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("alive", help="health check: is this runner's heartbeat recent?")
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("name", nargs="?", help="the runner (default: kafka, or reactions)")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    if settings.database_url is None:
        print("alive: DATABASE_URL is not set")
        return 1
    name = args.name or DEFAULT_NAMES[args.kind]
    conn = await connect(settings.projector_dsn(settings.database_url))
    try:
        seen = await conn.fetchval(
            "SELECT extract(epoch FROM now() - seen_at)::float8 FROM runner_liveness"
            " WHERE kind = $1 AND name = $2",
            KINDS[args.kind],
            name,
        )
    except (OSError, asyncpg.PostgresError) as e:
        print(f"alive: {args.kind} {name}: cannot read its heartbeat: {e}")
        return 1
    finally:
        await conn.close()
    if seen is None or seen > liveness.STALLED_SECONDS:
        never = "never seen" if seen is None else f"last seen {seen:.1f} s ago"
        print(f"alive: {args.kind} {name}: {never}")
        return 1
    print(f"alive: {args.kind} {name}: seen {seen:.1f} s ago")
    return 0
