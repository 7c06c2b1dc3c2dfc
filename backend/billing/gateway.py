"""The payment gateway behind an interface: webhook signature checks and refunds.

`FakeGateway` is the default adapter (and the tests'): it checks signatures for real and
records refunds in memory without any network. A real provider's adapter implements the same
protocol; bootstrap puts the one in use on `app.state.gateway`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from backend.kernel.errors import DomainError

SIGNATURE_PREFIX = "sha256="


class GatewayError(DomainError):
    """The provider did not do what we asked (nothing is recorded)."""

    code = "GATEWAY_ERROR"
    status = 502


@dataclass(frozen=True)
class RefundRequest:
    """`refund_id` is our id of the refund: the provider's idempotency key, so asking again
    after a failure never refunds twice."""

    refund_id: UUID
    provider: str
    provider_payment_id: str
    amount: Decimal
    currency: str


class PaymentGateway(Protocol):
    def knows(self, provider: str) -> bool:
        """Whether webhooks of `provider` are accepted."""

    def verify_signature(self, provider: str, body: bytes, header: str | None) -> bool:
        """Whether `header` (X-Signature) signs the raw `body` with the provider's secret."""

    async def refund(self, request: RefundRequest) -> str:
        """Refund at the provider; the provider's reference of the refund. Raises GatewayError."""


def sign(secret: str, body: bytes) -> str:
    """The X-Signature value for `body`: sha256=<hex HMAC-SHA256>."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_PREFIX}{digest}"


def signature_matches(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time comparison of the expected and the given signature."""
    if header is None:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


class FakeGateway:
    """HMAC-checked webhooks for the configured providers; refunds kept in memory."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self._secrets = dict(secrets)
        self.refunds: dict[UUID, RefundRequest] = {}
        self.failing = False
        """Set by a test to make the next refunds fail like an unreachable provider."""

    def knows(self, provider: str) -> bool:
        return provider in self._secrets

    def verify_signature(self, provider: str, body: bytes, header: str | None) -> bool:
        secret = self._secrets.get(provider)
        return secret is not None and signature_matches(secret, body, header)

    async def refund(self, request: RefundRequest) -> str:
        """Refunds once per refund id, as providers do per idempotency key; the same key with
        other parameters is refused, as providers do."""
        if self.failing:
            msg = f"{request.provider} did not accept the refund"
            raise GatewayError(msg)
        if self.refunds.setdefault(request.refund_id, request) != request:
            msg = f"{request.provider} refused: idempotency key reused with other parameters"
            raise GatewayError(msg)
        return f"{request.provider}_re_{request.refund_id.hex}"
