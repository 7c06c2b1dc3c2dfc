"""JWT bearer tokens: claims sub (actor), tid (tenant), roles, exp.

Two kinds of signature are trusted, each with its own algorithms so that one can never pass
for the other (a public key used as an HMAC secret):
- HS256 under the shared secret (`CARETRAIL_JWT_SECRET`): tokens we mint, as the contract
  shows them;
- RS256 and ES256 from an identity provider, verified against its published keys (JWKS,
  `CARETRAIL_JWT_JWKS_URL`), fetched and cached by PyJWT's `PyJWKClient`.

Both are held to the same rules: `sub` and `exp` present, `aud` and `iss` equal to the
configured audience and issuer when they are configured (settings require them outside dev
and test), and a lifetime (`exp` less `iat`, or less now without `iat`) of at most
`max_lifetime_seconds`: a token that would stay valid for a year is refused even if signed.
A refusal names the rule broken in our own words, never the library's message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import jwt

from backend.auth.principal import Principal, Role

SHARED_SECRET_ALGORITHMS = ("HS256",)
IDENTITY_PROVIDER_ALGORITHMS = ("RS256", "ES256")
VERIFIED_TOKENS_KEPT = 10_000


class InvalidToken(Exception):
    pass


_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidAudienceError, "the token is not for this audience"),
    (jwt.InvalidIssuerError, "the token is not from the trusted issuer"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (jwt.PyJWKClientConnectionError, "the identity provider's keys could not be fetched"),
    (jwt.PyJWKClientError, "no signing key of the identity provider matches the token"),
)


@dataclass(frozen=True)
class TokenVerifier:
    secret: str
    audience: str | None = None
    issuer: str | None = None
    max_lifetime_seconds: int = 24 * 3600
    jwks: jwt.PyJWKClient | None = None

    _verified: dict[str, tuple[Principal, float]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """Tokens already verified, with their `exp`: a front end sends one token with every
    request, and verifying it each time was 7% of a command's CPU (py-spy). A hit is checked
    against `exp` again; a token is not revocable, so nothing else about it can change."""

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None and time.time() < known[1]:
            return known[0]
        try:
            claims = self._claims(token)
        except jwt.MissingRequiredClaimError as e:
            raise InvalidToken(f"the token has no {e.claim} claim") from None
        except jwt.PyJWTError as e:
            raise InvalidToken(_reason(e)) from None
        principal = _principal(claims)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._verified.clear()  # rare: a fresh start is cheaper than tracking use
        self._verified[token] = (principal, float(claims["exp"]))
        return principal

    def _claims(self, token: str) -> dict[str, Any]:
        algorithm = jwt.get_unverified_header(token).get("alg")
        key: Any
        if algorithm in SHARED_SECRET_ALGORITHMS:
            key, algorithms = self.secret, SHARED_SECRET_ALGORITHMS
        elif algorithm in IDENTITY_PROVIDER_ALGORITHMS and self.jwks is not None:
            key, algorithms = self.jwks.get_signing_key_from_jwt(token).key, (algorithm,)
        else:
            raise InvalidToken(f"the token's algorithm is not one of {', '.join(self._accepted())}")
        required = ["sub", "exp"]
        required += ["aud"] if self.audience else []
        required += ["iss"] if self.issuer else []
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=list(algorithms),
            audience=self.audience,
            issuer=self.issuer,
            options={"require": required, "verify_aud": self.audience is not None},
        )
        started = claims.get("iat", time.time())
        if not isinstance(started, int | float) or claims["exp"] - started > (
            self.max_lifetime_seconds
        ):
            raise InvalidToken(f"the token lives longer than {self.max_lifetime_seconds} s")
        return claims

    def _accepted(self) -> tuple[str, ...]:
        if self.jwks is None:
            return SHARED_SECRET_ALGORITHMS
        return SHARED_SECRET_ALGORITHMS + IDENTITY_PROVIDER_ALGORITHMS


def _reason(error: Exception) -> str:
    for kind, reason in _REASONS:
        if isinstance(error, kind):
            return reason
    return "the token is malformed or not signed as required"


def _principal(claims: dict[str, Any]) -> Principal:
    tid, roles = claims.get("tid"), claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidToken("roles must be a list of role names")
    unknown = sorted(set(roles) - {r.value for r in Role})
    if unknown:
        raise InvalidToken(f"unknown role {unknown[0]}")
    try:
        tenant_id = UUID(tid) if tid else None
    except (ValueError, TypeError, AttributeError):
        raise InvalidToken("tid is not a tenant id") from None
    return Principal(
        actor=str(claims["sub"]), tenant_id=tenant_id, roles=frozenset(Role(r) for r in roles)
    )


def issue_token(
    secret: str,
    *,
    actor: str,
    roles: list[str],
    tenant_id: UUID | None = None,
    ttl_seconds: int = 3600,
    audience: str | None = None,
    issuer: str | None = None,
) -> str:
    now = int(time.time())
    claims: dict[str, object] = {"sub": actor, "roles": roles, "iat": now, "exp": now + ttl_seconds}
    if tenant_id is not None:
        claims["tid"] = str(tenant_id)
    if audience is not None:
        claims["aud"] = audience
    if issuer is not None:
        claims["iss"] = issuer
    return jwt.encode(claims, secret, algorithm="HS256")
