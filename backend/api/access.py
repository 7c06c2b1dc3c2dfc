"""The access log: every read of a patient's records is recorded, in the read's own
transaction, as an append-only row of `access_log` (migration 0035): who (actor, roles or API
key), what (the route and its query), about whom (the patients the answer is about), why (the
`X-Access-Reason` header, when given) and whether it broke the glass.

The row is committed with the read, without waiting for the WAL flush (see `_INSERT`).
Reads note the patients they answer about while they run (`saw`, `saw_rows`: the read-model
helpers do it for every row with a `patient_id`); `read_model` (backend/api/reads.py) writes
the row before its transaction commits, so nothing is shown that is not recorded. Reads that
fold events themselves call `record`.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Iterable, Mapping
from contextvars import ContextVar, Token
from typing import Any
from uuid import UUID

import asyncpg
from fastapi import Request

from backend.auth.principal import Principal
from backend.kernel.errors import Invalid

REASON_HEADER = "x-access-reason"
REASON_MAX = 500
_SEEN: ContextVar[set[UUID] | None] = ContextVar("patients_seen", default=None)


def begin() -> Token[set[UUID] | None]:
    """Start noting the patients this read answers about."""
    return _SEEN.set(set())


def end(token: Token[set[UUID] | None]) -> set[UUID]:
    seen = _SEEN.get() or set()
    _SEEN.reset(token)
    return seen


def saw(patient_ids: Iterable[UUID | None]) -> None:
    seen = _SEEN.get()
    if seen is not None:
        seen.update(p for p in patient_ids if p is not None)


def saw_rows(rows: Iterable[Mapping[str, Any]]) -> None:
    """The patients of read-model rows that name one (`patient_id`). `keys()`: `in` on an
    asyncpg Record looks among its values."""
    saw(r["patient_id"] for r in rows if "patient_id" in r.keys())  # noqa: SIM118


def seen_so_far() -> set[UUID]:
    return set(_SEEN.get() or ())


def reason_of(request: Request) -> str | None:
    raw = request.headers.get(REASON_HEADER)
    return None if raw is None else reason_given(raw, "X-Access-Reason")


def reason_given(raw: str, field: str) -> str | None:
    """A reason as recorded: its whitespace runs made single spaces; None when blank; Invalid
    (naming `field`) beyond REASON_MAX characters."""
    reason = " ".join(raw.split())
    if len(reason) > REASON_MAX:
        raise Invalid(field, f"at most {REASON_MAX} characters")
    return reason or None


async def record(
    conn: asyncpg.Connection,
    request: Request,
    principal: Principal,
    patient_ids: Iterable[UUID],
    *,
    always: bool = False,
    break_glass: bool = False,
) -> None:
    """Write the access row (in `conn`'s tenant transaction); nothing when the read answered
    about no patient, unless `always` (an export, the event feed: reads of everyone)."""
    patients = sorted(set(patient_ids))
    if not request.app.state.settings.access_log or not (patients or always):
        return
    route = request.scope.get("route")
    await conn.execute(
        _INSERT,
        principal.tenant_id,
        principal.actor,
        principal.key_id,
        sorted(principal.roles),
        request.method,
        getattr(route, "path", request.url.path),
        dict(request.query_params),
        patients,
        reason_of(request),
        break_glass,
        getattr(request.state, "request_id", None),
    )


async def record_command_line(
    conn: asyncpg.Connection,
    tenant_id: UUID,
    command: str,
    arguments: Mapping[str, str],
    reason: str | None,
) -> None:
    """The access row of a read made on the command line (`caretrail audit export`): the actor
    is `cli:<user>@<host>` of the process, its role `OPERATOR` (whoever holds the database's
    address), the method `CLI` and the route the command."""
    actor = f"cli:{getpass.getuser()}@{socket.gethostname()}"
    await conn.execute(
        _INSERT,
        tenant_id,
        actor,
        None,
        ["OPERATOR"],
        "CLI",
        command,
        dict(arguments),
        [],
        reason,
        False,
        None,
    )


_INSERT = """
WITH asynchronous AS (SELECT set_config('synchronous_commit', 'off', true))
INSERT INTO access_log (tenant_id, actor, key_id, roles, method, route, query, patient_ids,
                        reason, break_glass, request_id)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM asynchronous
"""
"""The row, in the read's transaction, committed without waiting for the WAL to reach disk
(`synchronous_commit = off` for this transaction only): waiting for the flush cost a read 28%
of its throughput (make bench, access). The row is written before anything is shown, so a crash
of the API loses none; a crash of PostgreSQL itself can lose the rows of the last moment
(wal_writer_delay, three times at most: 0.6 s by default)."""
