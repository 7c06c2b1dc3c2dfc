"""Run a command for an HTTP request: idempotency, the command transaction, the response."""

from __future__ import annotations

import datetime as dt
import re
from uuid import UUID

import orjson
from fastapi import Request
from starlette.responses import Response

from backend.api.deps import context_for
from backend.api.idempotency import IdempotentRequest, StoredResponse
from backend.api.problems import PROBLEM
from backend.auth.principal import Principal
from backend.eventstore import EventStore
from backend.handling import CommandResult, CommandSession, Handler, run_command
from backend.kernel import streams
from backend.kernel.errors import Invalid

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
    if key is None:
        return _response(await run_command(store, ctx, tenant_id, handler), status_code)
    _check_key(key)
    idem = IdempotentRequest.of(
        key,
        principal.tenant_id,
        principal.actor,
        request.method,
        request.url.path,
        await request.body(),
    )
    lifetime = dt.timedelta(hours=request.app.state.settings.idempotency_key_hours)

    async def once(session: CommandSession) -> CommandResult | StoredResponse:
        """Under the key's lock: replay what is stored, or run the command and store its
        response. run_command may run this again (a concurrent writer moved a stream): the lock
        and the look-up are then taken again in the new transaction. A refusal (DomainError)
        rolls back and stores nothing."""
        stored = await idem.claim(session.conn, tenant_id)
        if stored is not None:
            return stored
        result = await handler(session)
        response = StoredResponse(status_code, result.body(), _etag(result))
        await idem.remember(session.conn, tenant_id, response, _patient_of(result), lifetime)
        return result

    outcome = await run_command(store, ctx, tenant_id, once)
    if isinstance(outcome, StoredResponse):
        return _replay(outcome)
    return _response(outcome, status_code)


KEY_PATTERN = rf"^[\x21-\x7e]([\x20-\x7e]{{0,{MAX_KEY_LENGTH - 2}}}[\x21-\x7e])?$"
"""1 to 255 visible ASCII characters (spaces inside only: a header's ends are trimmed)."""
_KEY = re.compile(KEY_PATTERN)


def _check_key(key: str) -> None:
    if not _KEY.fullmatch(key):
        raise Invalid("Idempotency-Key", f"1 to {MAX_KEY_LENGTH} visible ASCII characters")


def _patient_of(result: CommandResult) -> UUID | None:
    """The patient a response is about: the patient's own record (registration, change,
    erasure) or the one it names (appointments, visits, admissions, invoices, checklists)."""
    if result.stream_type == streams.PATIENT:
        return result.id
    named = result.view.get("patient_id")
    return None if named is None else UUID(str(named))


def _etag(result: CommandResult) -> dict[str, str]:
    return {"ETag": f'"{result.version}"'}


def _response(result: CommandResult, status_code: int) -> Response:
    return Response(
        orjson.dumps({**result.body(), **(result.shown_once or {})}),
        status_code=status_code,
        media_type="application/json",
        headers=_etag(result),
    )


def _replay(stored: StoredResponse) -> Response:
    return Response(
        orjson.dumps(stored.body),
        status_code=stored.status_code,
        media_type=PROBLEM if stored.status_code >= 400 else "application/json",
        headers={**stored.headers, "Idempotent-Replayed": "true"},
    )
