"""The rotating token a site shows as a QR code for patients to check in with (pure).

The site is the tenant (one clinic, one screen's worth of token). A token names its tenant and
its period (the number of whole rotation periods since the epoch) and carries
HMAC-SHA256 over both, under the tenant's own key: HMAC-SHA256 of the tenant id under a base
key the settings give (backend/settings.py: derived from the master key). A token is good in
its period and the next (the one shown just before the screen changed stays good for a
scan in flight), refused as expired after that.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from uuid import UUID

from backend.kernel.errors import Conflict, DomainError

PREFIX = "ct1"


class QrTokenInvalid(DomainError):
    code = "QR_TOKEN_INVALID"
    status = 422


@dataclass(frozen=True)
class Rotation:
    base_key: bytes
    period_seconds: int

    def period(self, now: dt.datetime) -> int:
        return int(now.timestamp()) // self.period_seconds

    def token(self, tenant_id: UUID, now: dt.datetime) -> tuple[str, dt.datetime]:
        """The token shown now, and when the screen should show the next one."""
        period = self.period(now)
        expires = dt.datetime.fromtimestamp((period + 1) * self.period_seconds, dt.UTC)
        return f"{PREFIX}.{tenant_id.hex}.{period}.{self._mac(tenant_id, period)}", expires

    def verify(self, token: str, tenant_id: UUID, now: dt.datetime) -> None:
        """Refuses a token that is not one of ours (QR_TOKEN_INVALID), another site's
        (QR_WRONG_SITE), or from before the last rotation (QR_TOKEN_EXPIRED)."""
        try:
            prefix, site_hex, period_text, mac = token.split(".")
            site, period = UUID(hex=site_hex), int(period_text)
        except ValueError:
            raise QrTokenInvalid("not a check-in code") from None
        if prefix != PREFIX or not hmac.compare_digest(mac, self._mac(site, period)):
            raise QrTokenInvalid("not a check-in code")
        if site != tenant_id:
            raise Conflict("QR_WRONG_SITE", "this code belongs to another site")
        current = self.period(now)
        if period > current:
            raise QrTokenInvalid("a code from the future")
        if period < current - 1:
            raise Conflict("QR_TOKEN_EXPIRED", "this code has expired; scan the one shown now")

    def _mac(self, tenant_id: UUID, period: int) -> str:
        key = hmac.new(self.base_key, tenant_id.bytes, hashlib.sha256).digest()
        digest = hmac.new(key, f"{tenant_id}:{period}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def base_key(master_key: bytes) -> bytes:
    """The base of every site's key: the master key's, for this purpose only."""
    return hmac.new(master_key, b"caretrail:check-in-qr", hashlib.sha256).digest()
