"""Helpers for tests: tokens and tenants created through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from backend.auth.tokens import issue_token

JWT_SECRET = "test-secret-0123456789abcdef0123456789"
FAKEPAY_SECRET = "test-fakepay-webhook-secret-0123456789"
METRICS_TOKEN = "test-metrics-scrape-token"
# Base64 of 32 bytes: the suite's master key (outside dev one must be set, and never the dev one).
TEST_MASTER_KEY = "dGVzdC1tYXN0ZXIta2V5LW9mLXRoZS1zdWl0ZS0zMmI="


def bearer(
    roles: list[str], tenant_id: uuid.UUID | None = None, actor: str = "tester"
) -> dict[str, str]:
    token = issue_token(JWT_SECRET, actor=actor, roles=roles, tenant_id=tenant_id)
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class TenantFixture:
    id: uuid.UUID
    slug: str

    def as_role(self, *roles: str, actor: str = "tester") -> dict[str, str]:
        return bearer(list(roles), self.id, actor)


async def new_tenant(
    client: httpx.AsyncClient, kind: str = "clinic", currency: str = "USD"
) -> TenantFixture:
    """A fresh tenant created through the API by a platform admin."""
    slug = f"{kind}-{uuid.uuid4().hex[:12]}"
    r = await client.post(
        "/v1/tenants",
        json={"name": f"Clinic {slug}", "slug": slug, "kind": kind, "currency": currency},
        headers=bearer(["PLATFORM_ADMIN"]),
    )
    assert r.status_code == 201, r.text
    return TenantFixture(uuid.UUID(r.json()["id"]), slug)
