"""Dependencies: the authenticated principal, role checks and the request context."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request

from backend.api import request_ids, versions
from backend.api.problems import ApiError
from backend.api.rate_limits import RateLimiter
from backend.auth import api_keys, scopes
from backend.auth.principal import Principal, Role
from backend.auth.tokens import InvalidToken, TokenVerifier
from backend.handling import RequestContext
from backend.kernel.errors import Invalid

IF_MATCH = r'^\s*(W/)?"?[0-9]{1,18}"?\s*$'
_IF_MATCH = re.compile(r'^\s*(?:W/)?"?([0-9]{1,18})"?\s*$')


async def authenticate(request: Request) -> Principal:
    """A partner's `X-API-Key` (when given, it is the credential), else a bearer token. Kept
    for the request, with the API version it speaks (backend/api/versions.py): a versioned
    route may need the caller before its dependencies run."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    principal = await _authenticated(request)
    request.state.principal = principal
    request.state.api_version = versions.spoken(request.headers.get(versions.HEADER), principal)
    return principal


async def _authenticated(request: Request) -> Principal:
    presented = request.headers.get("x-api-key")
    if presented is not None:
        try:
            principal = await api_keys.authenticate(
                request.app.state.pool, presented, request.app.state.verified_keys
            )
        except api_keys.InvalidKey as e:
            raise ApiError(401, "UNAUTHENTICATED", str(e)) from None
        request.state.principal = principal
        await _within_rate_limits(request, principal)
        return principal
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401,
            "UNAUTHENTICATED",
            "missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    tokens: TokenVerifier = request.app.state.tokens
    try:
        return tokens.verify(token.strip())
    except InvalidToken as e:
        raise ApiError(
            401, "UNAUTHENTICATED", f"invalid token: {e}", headers={"WWW-Authenticate": "Bearer"}
        ) from None


async def _within_rate_limits(request: Request, principal: Principal) -> None:
    """Spends one request of the key's budget and its tenant's (backend/api/rate_limits.py);
    the response, whatever it is, says what is left (RequestLogMiddleware adds the headers)."""
    assert principal.key_id is not None and principal.tenant_id is not None
    assert principal.rate_limits is not None
    limiter: RateLimiter = request.app.state.rate_limiter
    verdict = await limiter.take(principal.tenant_id, principal.key_id, principal.rate_limits)
    request.state.rate_limit_headers = verdict.headers()
    if not verdict.allowed:
        raise ApiError(
            429,
            "RATE_LIMITED",
            "the API key or its tenant has used its requests for now; retry after"
            f" {verdict.retry_after} s",
            headers={"Retry-After": str(verdict.retry_after)},
        )


def require(*roles: Role) -> Callable[[Request, Principal], Awaitable[Principal]]:
    """A dependency that lets only `roles` through, and API keys holding the scope the route
    needs (backend/auth/scopes.py). Both it and `authenticate` are coroutines, so FastAPI runs
    them on the event loop rather than handing each request to the thread pool twice (a plain
    `def` dependency costs two thread hops per request)."""
    allowed = frozenset(roles)

    async def check(
        request: Request, principal: Annotated[Principal, Depends(authenticate)]
    ) -> Principal:
        if principal.key_id is not None:
            _key_may_call(request, principal)
        elif not principal.has_any(allowed):
            raise ApiError(403, "FORBIDDEN", f"requires one of: {', '.join(sorted(allowed))}")
        return principal

    return check


def _key_may_call(request: Request, principal: Principal) -> None:
    route = request.scope["route"]
    needed = scopes.scope_for(request.method, route.path)
    if needed is None:
        raise ApiError(403, "FORBIDDEN", "API keys may not call this endpoint")
    if needed not in principal.scopes:
        raise ApiError(403, "INSUFFICIENT_SCOPE", f"the API key lacks the scope {needed}")


def tenant_of(principal: Principal) -> UUID:
    if principal.tenant_id is None:
        raise ApiError(403, "TENANT_REQUIRED", "this endpoint acts within a tenant")
    return principal.tenant_id


def if_match_version(request: Request) -> int | None:
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    match = _IF_MATCH.match(raw)
    if match is None:  # not a precondition at all: the request is malformed
        raise Invalid("If-Match", 'must be "<version>", e.g. "3"')
    return int(match.group(1))


def context_for(request: Request, principal: Principal) -> RequestContext:
    request_id: str = request.state.request_id
    correlation_id = request.headers.get("x-correlation-id", request_id)
    if not request_ids.is_valid(correlation_id):
        raise Invalid("X-Correlation-ID", request_ids.RULE)
    return RequestContext(
        principal=principal,
        request_id=request_id,
        correlation_id=correlation_id,
        now=dt.datetime.now(dt.UTC),
        if_match=if_match_version(request),
        traceparent=request.state.traceparent,
        command=f"{request.method} {request.scope['route'].path}",
    )
