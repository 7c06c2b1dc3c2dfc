"""The API trusting an identity provider: its RS256/ES256 tokens are verified against the JWKS
it serves (here on this machine), audience and issuer checked; a refusal is 401 in our words."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import jwt
import pytest
from e2e_helpers import assert_problem
from fastapi import FastAPI
from jwks_helpers import AUDIENCE, ISSUER, IdentityProvider, serving
from support import JWT_SECRET, TenantFixture

from backend.auth.tokens import TokenVerifier


@pytest.fixture
def provider(app: FastAPI) -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    with serving(provider) as url:
        before = app.state.tokens
        jwks = jwt.PyJWKClient(url, timeout=5)
        app.state.tokens = TokenVerifier(JWT_SECRET, AUDIENCE, ISSUER, 3600, jwks)
        try:
            yield provider
        finally:
            app.state.tokens = before


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
async def test_a_provider_token_acts_in_its_tenant(
    client: httpx.AsyncClient, tenant: TenantFixture, provider: IdentityProvider, algorithm: str
) -> None:
    token = provider.token(algorithm, tid=str(tenant.id), roles=["CLINIC_ADMIN"])
    r = await client.get("/v1/tenant", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == str(tenant.id)
    assert provider.fetches >= 1


async def test_wrong_audience_issuer_or_lifetime_is_401_without_internals(
    client: httpx.AsyncClient, tenant: TenantFixture, provider: IdentityProvider
) -> None:
    tid = str(tenant.id)
    for claims, words in (
        ({"aud": "another-api"}, "audience"),
        ({"iss": "https://elsewhere.invalid/"}, "issuer"),
        ({"exp": 2**31 - 1}, "longer than 3600"),
    ):
        token = provider.token(tid=tid, roles=["CLINIC_ADMIN"], **claims)
        r = await client.get("/v1/tenant", headers={"Authorization": f"Bearer {token}"})
        body = assert_problem(r, 401, "UNAUTHENTICATED")
        assert words in body["detail"], body
    r = await client.get("/v1/tenant", headers={"Authorization": "Bearer e30.e30.e30"})
    body = assert_problem(r, 401, "UNAUTHENTICATED")
    assert body["detail"].endswith("the token's algorithm is not one of HS256, RS256, ES256")
    # The contract's HS256 tokens have no aud: refused where an audience is configured.
    r = await client.get("/v1/tenant", headers=tenant.as_role("CLINIC_ADMIN"))
    assert "aud claim" in assert_problem(r, 401, "UNAUTHENTICATED")["detail"]
