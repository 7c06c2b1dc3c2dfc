"""Token rules beyond the signature: audience, issuer, lifetime, an identity provider's keys
(RS256 and ES256 against a JWKS served on this machine), and refusals in our own words."""

from __future__ import annotations

import time
from collections.abc import Iterator

import jwt
import pytest
from jwks_helpers import AUDIENCE, ISSUER, IdentityProvider, serving

from backend.auth.principal import Role
from backend.auth.tokens import InvalidToken, TokenVerifier, issue_token

SECRET = "unit-test-secret-" + "0123456789abcdef" * 4


@pytest.fixture(scope="module")
def provider() -> IdentityProvider:
    return IdentityProvider()


@pytest.fixture(scope="module")
def jwks_url(provider: IdentityProvider) -> Iterator[str]:
    with serving(provider) as url:
        yield url


@pytest.fixture
def verifier(jwks_url: str) -> TokenVerifier:
    return TokenVerifier(SECRET, AUDIENCE, ISSUER, 3600, jwt.PyJWKClient(jwks_url, timeout=5))


def _refusal(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as refused:
        verifier.verify(token)
    return str(refused.value)


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_identity_provider_tokens_verify_against_its_jwks(
    verifier: TokenVerifier, provider: IdentityProvider, algorithm: str
) -> None:
    principal = verifier.verify(provider.token(algorithm))
    assert principal.actor == "idp-user-1"
    assert principal.roles == frozenset({Role.DOCTOR})


def test_audience_and_issuer_are_checked_when_configured(
    verifier: TokenVerifier, provider: IdentityProvider
) -> None:
    assert "audience" in _refusal(verifier, provider.token(aud="another-service"))
    assert "aud claim" in _refusal(verifier, provider.token(aud=None))
    assert "issuer" in _refusal(verifier, provider.token(iss="https://evil.example/"))
    assert "iss claim" in _refusal(verifier, provider.token(iss=None))
    shared = issue_token(SECRET, actor="a", roles=["NURSE"], audience=AUDIENCE, issuer=ISSUER)
    assert verifier.verify(shared).roles == frozenset({Role.NURSE})
    assert "aud claim" in _refusal(verifier, issue_token(SECRET, actor="a", roles=["NURSE"]))


def test_without_audience_and_issuer_configured_contract_tokens_work() -> None:
    """Dev: tokens as shared/design/API.md shows them (sub, tid, roles, exp)."""
    claims = {"sub": "a", "roles": ["DOCTOR"], "exp": int(time.time()) + 600}
    assert TokenVerifier(SECRET).verify(jwt.encode(claims, SECRET, algorithm="HS256")).actor == "a"


def test_a_token_may_not_live_longer_than_the_maximum(
    verifier: TokenVerifier, provider: IdentityProvider
) -> None:
    now = int(time.time())
    assert "longer than 3600" in _refusal(verifier, provider.token(exp=now + 7200))
    no_iat = provider.token(iat=None, exp=now + 7200)
    assert "longer than 3600" in _refusal(verifier, no_iat)
    long_lived = issue_token(
        SECRET, actor="a", roles=[], audience=AUDIENCE, issuer=ISSUER, ttl_seconds=365 * 86400
    )
    assert "longer than 3600" in _refusal(verifier, long_lived)
    assert verifier.verify(provider.token(exp=now + 3000)).actor == "idp-user-1"


def test_a_public_key_is_no_hmac_secret_and_unknown_keys_are_refused(
    verifier: TokenVerifier, provider: IdentityProvider
) -> None:
    # The classic confusion: HS256 "signed" with the provider's public key.
    unverified = provider.token().split(".")
    forged = jwt.encode(
        jwt.decode(provider.token(), options={"verify_signature": False}),
        SECRET[::-1],
        algorithm="HS256",
    )
    assert unverified and "signature" in _refusal(verifier, forged)
    other = IdentityProvider()  # same kid, another key
    assert "signature" in _refusal(verifier, other.token())
    unknown_kid = jwt.encode(
        {"sub": "a", "exp": int(time.time()) + 60, "aud": AUDIENCE, "iss": ISSUER},
        provider.rsa,
        algorithm="RS256",
        headers={"kid": "nobody"},
    )
    assert "no signing key" in _refusal(verifier, unknown_kid)
    assert "algorithm is not one of HS256" in _refusal(TokenVerifier(SECRET), provider.token())


def test_refusals_do_not_echo_library_internals(
    verifier: TokenVerifier, provider: IdentityProvider
) -> None:
    for token in ("not.a.token", "a" * 40, provider.token()[:-8] + "AAAAAAAA"):
        reason = _refusal(verifier, token)
        for internal in ("Error", "Traceback", "padding", "utf-8", "Invalid header", "decode"):
            assert internal not in reason, reason
    assert _refusal(verifier, provider.token(exp=1)) == "the token has expired"
