"""Which fields of an event are sealed, and what they read as once their key is gone.

An event class lists its personal fields and the field naming their subject
(`DomainEvent.personal`, `DomainEvent.subject`). Stored, those fields move into one encrypted
`sealed` member of the event's data; read back, they are restored from it, or, when the
subject's key has been destroyed, replaced by redacted values: text reads as "[erased]", any
other value as null (a dict as empty). Pure: the keys are the caller's business.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backend.kernel.events import DomainEvent, event_class
from backend.privacy.crypto import open_sealed, seal

SEALED = "sealed"
ERASED_TEXT = "[erased]"


def is_sealed(data: dict[str, Any]) -> bool:
    return SEALED in data


def subject_of(event_type: str, data: dict[str, Any]) -> str:
    """The subject whose key seals this (sealed) event's personal fields, as stored (text)."""
    return str(data[event_class(event_type).subject])


def sealed_data(
    event: type[DomainEvent], data: dict[str, Any], data_key: bytes, event_id: UUID
) -> dict[str, Any]:
    personal = {name: data[name] for name in event.personal}
    kept = {name: value for name, value in data.items() if name not in event.personal}
    return {**kept, SEALED: seal(data_key, personal, event_id)}


def opened_data(
    event_type: str, data: dict[str, Any], subject: AESGCM | None, event_id: UUID
) -> dict[str, Any]:
    """`subject`: the subject's cipher (crypto.cipher), None once their key is destroyed."""
    kept = {name: value for name, value in data.items() if name != SEALED}
    if subject is None:
        return {**kept, **{name: _redacted_value(hint) for name, hint in _personal(event_type)}}
    return {**kept, **open_sealed(subject, data[SEALED], event_id)}


@functools.cache
def _personal(event_type: str) -> tuple[tuple[str, Any], ...]:
    """The event type's personal fields with their type hints (resolved once per type)."""
    event = event_class(event_type)
    hints = typing.get_type_hints(event)
    fields = {f.name for f in dataclasses.fields(event)}
    return tuple((name, hints[name]) for name in event.personal if name in fields)


def _redacted_value(hint: Any) -> Any:
    if hint is str:
        return ERASED_TEXT
    if typing.get_origin(hint) is dict:
        return {}
    return None
