"""Dependencies: the authenticated principal, role checks and the request context."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request

from backend.api.problems import ApiError
from backend.auth.principal import Principal, Role
from backend.auth.tokens import InvalidToken, decode_token
from backend.handling import PreconditionFailed, RequestContext

_IF_MATCH = re.compile(r'^\s*(?:W/)?"?(\d+)"?\s*$')


def authenticate(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if request.headers.get("x-api-key"):
        raise ApiError(401, "UNAUTHENTICATED", "API keys are not accepted on this endpoint yet")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401,
            "UNAUTHENTICATED",
            "missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        principal = decode_token(token.strip(), request.app.state.settings.effective_jwt_secret)
    except InvalidToken as e:
        raise ApiError(
            401, "UNAUTHENTICATED", f"invalid token: {e}", headers={"WWW-Authenticate": "Bearer"}
        ) from e
    request.state.principal = principal
    return principal


def require(*roles: Role) -> Callable[[Principal], Principal]:
    allowed = frozenset(roles)

    def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.has_any(allowed):
            raise ApiError(403, "FORBIDDEN", f"requires one of: {', '.join(sorted(allowed))}")
        return principal

    return check


def tenant_of(principal: Principal) -> UUID:
    if principal.tenant_id is None:
        raise ApiError(403, "TENANT_REQUIRED", "this endpoint acts within a tenant")
    return principal.tenant_id


def if_match_version(request: Request) -> int | None:
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    match = _IF_MATCH.match(raw)
    if match is None:
        raise PreconditionFailed(f'If-Match must be "<version>", got {raw}')
    return int(match.group(1))


def context_for(request: Request, principal: Principal) -> RequestContext:
    request_id: str = request.state.request_id
    return RequestContext(
        principal=principal,
        request_id=request_id,
        correlation_id=request.headers.get("x-correlation-id", request_id),
        now=dt.datetime.now(dt.UTC),
        if_match=if_match_version(request),
    )
