"""Run a command for an HTTP request: idempotency, the command transaction, the response."""

from __future__ import annotations

from uuid import UUID

import asyncpg
import orjson
from fastapi import Request
from starlette.responses import Response

from backend.api.deps import context_for
from backend.api.idempotency import IdempotentRequest, StoredResponse
from backend.api.problems import PROBLEM, domain_problem_body
from backend.auth.principal import Principal
from backend.eventstore import EventStore
from backend.handling import CommandResult, CommandSession, Handler, run_command
from backend.kernel.errors import DomainError, Invalid

MAX_KEY_LENGTH = 255


async def execute(
    request: Request,
    principal: Principal,
    tenant_id: UUID,
    handler: Handler[CommandResult],
    *,
    status_code: int = 200,
) -> Response:
    store: EventStore = request.app.state.store
    ctx = context_for(request, principal)
    key = request.headers.get("idempotency-key")
    idem = None
    if key is not None:
        _check_key(key)
        body = await request.body()
        idem = IdempotentRequest.of(
            key, principal.tenant_id, request.method, request.url.path, body
        )
        stored = await idem.lookup(store)
        if stored is not None:
            return _replay(stored)

    async def remember(session: CommandSession, result: CommandResult) -> None:
        if idem is not None:
            await idem.remember(session.conn, status_code, result.body(), _etag(result))

    try:
        result = await run_command(store, ctx, tenant_id, handler, remember)
    except DomainError as e:
        # A refusal is the first response too: a repeat gets it again even if the state has
        # changed since. Only a transient failure (too much contention) may be retried.
        if idem is not None and e.code != "CONCURRENCY_CONFLICT":
            await idem.remember_refusal(store, e.status, domain_problem_body(e))
        raise
    except asyncpg.UniqueViolationError as e:
        if idem is None or e.constraint_name != "idempotency_keys_pkey":
            raise
        stored = await idem.lookup(store)
        assert stored is not None
        return _replay(stored)
    return Response(
        orjson.dumps(result.body()),
        status_code=status_code,
        media_type="application/json",
        headers=_etag(result),
    )


def _check_key(key: str) -> None:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise Invalid("Idempotency-Key", f"1 to {MAX_KEY_LENGTH} printable characters")


def _etag(result: CommandResult) -> dict[str, str]:
    return {"ETag": f'"{result.version}"'}


def _replay(stored: StoredResponse) -> Response:
    return Response(
        orjson.dumps(stored.body),
        status_code=stored.status_code,
        media_type=PROBLEM if stored.status_code >= 400 else "application/json",
        headers={**stored.headers, "Idempotent-Replayed": "true"},
    )
