"""The cluster's Caretrail roles and their settings: what a database dump does not carry.

`pg_dump` copies a database's tables, grants and policies, but not the roles they name, the roles'
settings (`ALTER ROLE ... SET`) nor their memberships (`pg_read_all_stats`): a database restored
onto a new cluster needs them first, or its grants fail and its readers lose their timeouts and
their precise event horizon (docs/architecture.md). `caretrail roles` applies this script (the
restore runbook in docs/operations.md), and so does migration 0021: it is the one description of
the roles. Every statement is idempotent.
"""

from __future__ import annotations

import asyncpg

RUNTIME_ROLES = ("caretrail_app", "caretrail_relay", "caretrail_projector")

ROLE_SETTINGS = {
    "caretrail_app": {"idle_in_transaction_session_timeout": "5s", "statement_timeout": "30s"},
    "caretrail_relay": {"idle_in_transaction_session_timeout": "5s", "statement_timeout": "30s"},
    "caretrail_projector": {
        "idle_in_transaction_session_timeout": "5s",
        "statement_timeout": "60s",
    },
}
"""Bound the xmin-horizon trap for our own sessions: no transaction of a runtime role sits idle
or runs long and so holds the global readers back."""

READS_ACTIVITY = ("caretrail_relay", "caretrail_projector")
"""Members of pg_read_all_stats: they see which transactions may still commit events."""


def roles_script() -> str:
    create = "\n".join(
        f"  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN\n"
        f"    CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;\n"
        "  END IF;"
        for role in RUNTIME_ROLES
    )
    settings = "\n".join(
        f"ALTER ROLE {role} SET {name} = '{value}';"
        for role, values in ROLE_SETTINGS.items()
        for name, value in values.items()
    )
    return f"""
DO $$
BEGIN
{create}
END $$;
{settings}
DO $$
BEGIN
  IF current_setting('server_version_num')::int >= 170000 THEN
    EXECUTE format('ALTER ROLE caretrail_app SET transaction_timeout = %L', '30s');
  END IF;
END $$;
DO $$
BEGIN
  GRANT pg_read_all_stats TO {", ".join(READS_ACTIVITY)};
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'pg_read_all_stats not granted: readers use the cluster-wide xmin horizon';
END $$;
"""


async def apply_roles(conn: asyncpg.Connection) -> None:
    """Create the runtime roles where missing and (re)apply their settings and memberships."""
    await conn.execute(roles_script())


async def missing_role_setup(conn: asyncpg.Connection) -> list[str]:
    """What the cluster lacks of the roles' setup, in words; empty when all is in place."""
    rows = await conn.fetch(
        "SELECT r.rolname, coalesce(s.setconfig, '{}') AS settings,"
        " pg_has_role(r.rolname, 'pg_read_all_stats', 'USAGE') AS reads_activity"
        " FROM pg_roles r LEFT JOIN pg_db_role_setting s ON s.setrole = r.oid AND s.setdatabase = 0"
        " WHERE r.rolname = ANY($1::text[])",
        list(RUNTIME_ROLES),
    )
    found = {row["rolname"]: row for row in rows}
    missing = [f"role {role}" for role in RUNTIME_ROLES if role not in found]
    for role, values in ROLE_SETTINGS.items():
        if role not in found:
            continue
        present = set(found[role]["settings"])
        missing += [
            f"{role}: {name}={value}"
            for name, value in values.items()
            if f"{name}={value}" not in present
        ]
    missing += [
        f"{role}: member of pg_read_all_stats"
        for role in READS_ACTIVITY
        if role in found and not found[role]["reads_activity"]
    ]
    return missing
