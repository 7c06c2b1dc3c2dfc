"""HS256 JWT bearer tokens: claims sub (actor), tid (tenant), roles, exp."""

from __future__ import annotations

import time
from uuid import UUID

import jwt

from backend.auth.principal import Principal, Role


class InvalidToken(Exception):
    pass


def decode_token(token: str, secret: str) -> Principal:
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["sub", "exp"]}
        )
        tid = claims.get("tid")
        roles = frozenset(Role(r) for r in claims.get("roles", []))
        return Principal(
            actor=str(claims["sub"]), tenant_id=UUID(tid) if tid else None, roles=roles
        )
    except (jwt.PyJWTError, ValueError, TypeError) as e:
        raise InvalidToken(str(e)) from e


def issue_token(
    secret: str,
    *,
    actor: str,
    roles: list[str],
    tenant_id: UUID | None = None,
    ttl_seconds: int = 3600,
) -> str:
    claims: dict[str, object] = {
        "sub": actor,
        "roles": roles,
        "exp": int(time.time()) + ttl_seconds,
    }
    if tenant_id is not None:
        claims["tid"] = str(tenant_id)
    return jwt.encode(claims, secret, algorithm="HS256")
