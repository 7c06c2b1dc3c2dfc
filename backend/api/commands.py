"""Run a command for an HTTP request: idempotency, the command transaction, the response."""

from __future__ import annotations

from uuid import UUID

import asyncpg
import orjson
from fastapi import Request
from starlette.responses import Response

from backend.api.deps import context_for
from backend.api.idempotency import IdempotentRequest, StoredResponse
from backend.auth.principal import Principal
from backend.eventstore import EventStore
from backend.handling import CommandResult, CommandSession, Handler, run_command


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
    if key:
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


def _etag(result: CommandResult) -> dict[str, str]:
    return {"ETag": f'"{result.version}"'}


def _replay(stored: StoredResponse) -> Response:
    return Response(
        orjson.dumps(stored.body),
        status_code=stored.status_code,
        media_type="application/json",
        headers={**stored.headers, "Idempotent-Replayed": "true"},
    )
