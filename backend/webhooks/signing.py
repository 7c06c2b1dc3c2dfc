"""Standard Webhooks signatures (https://www.standardwebhooks.com/), pure.

A secret reads `whsec_<base64 of its bytes>`; a delivery carries `webhook-id`,
`webhook-timestamp` (seconds since the epoch, of this attempt) and `webhook-signature:
v1,<base64 of HMAC-SHA256(secret bytes, "{id}.{timestamp}.{body}")>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from uuid import UUID, uuid5

from backend.kernel.errors import Invalid

PREFIX = "whsec_"
MIN_BYTES, MAX_BYTES = 24, 64
GENERATED_BYTES = 32


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(GENERATED_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    """The key a `whsec_` secret names; Invalid("secret") when it names none we accept."""
    rule = f"whsec_ and the base64 of {MIN_BYTES} to {MAX_BYTES} random bytes"
    if not secret.startswith(PREFIX):
        raise Invalid("secret", rule)
    try:
        key = base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("secret", rule) from None
    if not MIN_BYTES <= len(key) <= MAX_BYTES:
        raise Invalid("secret", rule)
    return key


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def message_id(subscription_id: UUID, event_id: UUID) -> str:
    """The same for every attempt, retry or replay of one event to one subscription: a
    receiver deduplicates on it."""
    return f"msg_{uuid5(subscription_id, str(event_id)).hex}"
