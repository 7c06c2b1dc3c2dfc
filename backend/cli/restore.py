"""`caretrail roles` and `caretrail restore finish`: the two steps of a restore that a database
dump cannot carry (docs/operations.md, "Restore").

`roles`, on the cluster the dump goes to and before `pg_restore`: the runtime roles, their
settings and memberships (backend/eventstore/roles.py). `restore finish`, after it: migrations
to head and a new store epoch (backend/eventstore/epochs.py), so new events sort after the
restored ones and Kafka carries them in a topic of their own.
"""

from __future__ import annotations

import argparse
import sys

import asyncpg

from backend.eventstore.migrate import MigrationFailed, upgrade_to_head
from backend.eventstore.roles import apply_roles, missing_role_setup
from backend.settings import Settings


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser(
        "roles", help="create the runtime roles on DATABASE_URL's cluster, with their settings"
    )
    parser = sub.add_parser("restore", help="finish a restore of a database dump")
    commands = parser.add_subparsers(dest="restore_command", required=True)
    commands.add_parser(
        "finish", help="migrate, begin a new store epoch and Kafka topic, check the roles"
    )


def _owner(settings: Settings) -> str | None:
    if not settings.database_url:
        print("DATABASE_URL is not set", file=sys.stderr)
    return settings.database_url


async def roles(settings: Settings) -> int:
    owner_dsn = _owner(settings)
    if owner_dsn is None:
        return 2
    conn = await asyncpg.connect(owner_dsn)
    try:
        await apply_roles(conn)
        missing = await missing_role_setup(conn)
    finally:
        await conn.close()
    return _report_roles(missing)


async def finish(settings: Settings) -> int:
    owner_dsn = _owner(settings)
    if owner_dsn is None:
        return 2
    try:
        epoch = await upgrade_to_head(
            owner_dsn, settings.projector_dsn(owner_dsn), new_epoch="restore finished by operator"
        )
    except MigrationFailed as e:
        print(str(e), file=sys.stderr)
        return 1
    print(
        f"store epoch {epoch.epoch}: transaction ids shifted by {epoch.xid_offset},"
        f" highest stored {epoch.highest_tx_id}; Kafka topic {epoch.kafka_topic}"
    )
    conn = await asyncpg.connect(owner_dsn)
    try:
        missing = await missing_role_setup(conn)
    finally:
        await conn.close()
    return _report_roles(missing)


def _report_roles(missing: list[str]) -> int:
    if missing:
        print("the cluster lacks: " + "; ".join(missing), file=sys.stderr)
        return 1
    print("roles: caretrail_app, caretrail_relay, caretrail_projector with their settings")
    return 0
