"""HS256 bearer tokens: issue and decode."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from backend.auth.principal import STAFF, Principal, Role
from backend.auth.tokens import InvalidToken, TokenVerifier, issue_token

SECRET = "unit-test-secret-" + "0123456789abcdef" * 4
OTHER_SECRET = "another-secret-" + "fedcba9876543210" * 4
TENANT = uuid.UUID("80000000-0000-4000-8000-000000000008")


def test_issue_then_decode_round_trips_actor_tenant_and_roles() -> None:
    token = issue_token(SECRET, actor="user-1", roles=["DOCTOR", "NURSE"], tenant_id=TENANT)
    assert TokenVerifier(SECRET).verify(token) == Principal(
        actor="user-1", tenant_id=TENANT, roles=frozenset({Role.DOCTOR, Role.NURSE})
    )


def test_token_without_tenant_or_roles() -> None:
    principal = TokenVerifier(SECRET).verify(issue_token(SECRET, actor="admin", roles=[]))
    assert principal == Principal("admin", None, frozenset())
    assert not principal.has_any(STAFF)


def test_issue_token_sets_expiry_from_ttl() -> None:
    token = issue_token(SECRET, actor="a", roles=["PATIENT"], ttl_seconds=120)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["sub"] == "a"
    assert claims["roles"] == ["PATIENT"]
    assert "tid" not in claims
    assert abs(claims["exp"] - (time.time() + 120)) <= 5


def test_principal_has_any() -> None:
    p = Principal("x", TENANT, frozenset({Role.RECEPTIONIST}))
    assert p.has_any(STAFF)
    assert not p.has_any(frozenset({Role.AUDITOR, Role.PATIENT}))


def test_wrong_secret_is_invalid() -> None:
    token = issue_token(SECRET, actor="a", roles=["DOCTOR"], tenant_id=TENANT)
    with pytest.raises(InvalidToken):
        TokenVerifier(OTHER_SECRET).verify(token)


def test_expired_token_is_invalid() -> None:
    token = issue_token(SECRET, actor="a", roles=["DOCTOR"], ttl_seconds=-60)
    with pytest.raises(InvalidToken):
        TokenVerifier(SECRET).verify(token)


def test_a_verified_token_is_known_again_until_it_expires_and_no_longer() -> None:
    verifier = TokenVerifier(SECRET)
    token = issue_token(SECRET, actor="a", roles=["DOCTOR"], tenant_id=TENANT, ttl_seconds=1)
    first = verifier.verify(token)
    assert verifier.verify(token) == first
    (expires,) = [exp for _, exp in verifier._verified.values()]
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(token)  # the kept answer ended at exp
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(InvalidToken):
        verifier.verify(forged)  # another string: verified in full, never a hit


def test_unknown_role_is_invalid() -> None:
    token = issue_token(SECRET, actor="a", roles=["DOCTOR", "WIZARD"], tenant_id=TENANT)
    with pytest.raises(InvalidToken):
        TokenVerifier(SECRET).verify(token)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "a", "roles": ["DOCTOR"]},  # no exp
        {"roles": ["DOCTOR"], "exp": int(time.time()) + 600},  # no sub
        {"sub": "a", "roles": ["DOCTOR"], "exp": int(time.time()) + 600, "tid": "not-a-uuid"},
        {"sub": "a", "roles": "DOCTOR", "exp": int(time.time()) + 600},  # roles not a list
        {"sub": "a", "roles": None, "exp": int(time.time()) + 600},
    ],
    ids=["missing-exp", "missing-sub", "bad-tid", "roles-string", "roles-null"],
)
def test_malformed_claims_are_invalid(claims: dict[str, object]) -> None:
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        TokenVerifier(SECRET).verify(token)


def test_other_algorithms_and_garbage_are_invalid() -> None:
    claims = {"sub": "a", "roles": ["DOCTOR"], "exp": int(time.time()) + 600}
    unsigned = jwt.encode(claims, None, algorithm="none")
    with pytest.raises(InvalidToken):
        TokenVerifier(SECRET).verify(unsigned)
    hs512 = jwt.encode(claims, SECRET, algorithm="HS512")
    with pytest.raises(InvalidToken):
        TokenVerifier(SECRET).verify(hs512)
    with pytest.raises(InvalidToken):
        TokenVerifier(SECRET).verify("not.a.token")
