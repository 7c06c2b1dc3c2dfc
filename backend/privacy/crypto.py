"""AES-256-GCM for personal fields: a data key per subject (a patient), itself encrypted
("wrapped") by the master key from settings. Destroying a subject's wrapped key makes every
sealed field of theirs unreadable, while the events that carry them stay intact.

Pure: no I/O. Associated data binds each ciphertext to its place: a wrapped key to its tenant
and subject, a sealed field set to its event id, so neither can be moved elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any
from uuid import UUID

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE = 12
ALGORITHM = "A256GCM"


class MasterKey:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            msg = "the master key must be 32 bytes"
            raise ValueError(msg)
        self._aead = AESGCM(key)

    def wrap(self, data_key: bytes, tenant_id: UUID, subject_id: UUID) -> bytes:
        nonce = os.urandom(NONCE)
        return nonce + self._aead.encrypt(nonce, data_key, tenant_id.bytes + subject_id.bytes)

    def unwrap(self, wrapped: bytes, tenant_id: UUID, subject_id: UUID) -> bytes:
        aad = tenant_id.bytes + subject_id.bytes
        return self._aead.decrypt(wrapped[:NONCE], wrapped[NONCE:], aad)


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(data_key: bytes, fields: dict[str, Any], event_id: UUID) -> dict[str, str]:
    nonce = os.urandom(NONCE)
    ciphertext = AESGCM(data_key).encrypt(nonce, orjson.dumps(fields), event_id.bytes)
    return {
        "alg": ALGORITHM,
        "nonce": base64.b64encode(nonce).decode(),
        "ct": base64.b64encode(ciphertext).decode(),
    }


def cipher(data_key: bytes) -> AESGCM:
    """A subject's cipher, made once per key and reused for all of their events."""
    return AESGCM(data_key)


def open_parts(subject: AESGCM, nonce: str, ciphertext: str, event_id: UUID) -> dict[str, Any]:
    """The personal fields a sealed member held, from its `nonce` and `ct` (a rebuild has
    PostgreSQL take them out of the stored data; other readers take them out themselves)."""
    # binascii directly: base64.b64decode's argument checks cost as much as the decoding, and
    # every reader opens every sealed event (a rebuild, thousands a second).
    fields: dict[str, Any] = orjson.loads(
        subject.decrypt(binascii.a2b_base64(nonce), binascii.a2b_base64(ciphertext), event_id.bytes)
    )
    return fields
