"""Which fields of an event are sealed, and what they read as when they cannot be opened.

An event class lists its personal fields and the field naming their subject
(`DomainEvent.personal`, `DomainEvent.subject`). Stored, those fields move into one encrypted
`sealed` member of the event's data; read back, they are restored from it, or replaced by
redacted values: text reads as "[erased]" once the subject's key has been destroyed by an
erasure, and as "[unreadable]" when the sealed member or the key was altered (or is missing)
so that it no longer opens; any other value reads as null (a dict as empty). An unreadable
event is flagged, never fatal: one altered row must not take every read of its tenant down.
Pure: the keys are the caller's business.
"""

from __future__ import annotations

import binascii
import dataclasses
import enum
import functools
import typing
from typing import Any, NamedTuple
from uuid import UUID

from asyncpg.pgproto.pgproto import UUID as FastUUID
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backend.kernel.events import DomainEvent, event_class
from backend.privacy.crypto import open_parts, seal

SEALED = "sealed"
ERASED_TEXT = "[erased]"
UNREADABLE_TEXT = "[unreadable]"
# What an altered sealed member can make opening raise: a bad tag, bad base64 or nonce, a
# missing or mistyped member, a plaintext that is not a JSON object.
_CANNOT_OPEN = (InvalidTag, binascii.Error, ValueError, KeyError, TypeError)


class Redaction(enum.Enum):
    """Why a subject's sealed fields cannot be opened: the text they read as."""

    ERASED = ERASED_TEXT
    UNREADABLE = UNREADABLE_TEXT


SubjectKey = AESGCM | Redaction
"""A subject's cipher (crypto.cipher), or why there is none."""


class Opened(NamedTuple):
    """An event's data opened (or redacted), and whether it did not open. A named tuple rather
    than a frozen dataclass: every reader makes one per sealed event, and a frozen dataclass's
    construction (an `object.__setattr__` per field) cost a rebuild a microsecond each."""

    data: dict[str, Any]
    unreadable: bool


def is_sealed(data: dict[str, Any]) -> bool:
    return SEALED in data


def subject_of(event_type: str, data: dict[str, Any]) -> UUID | None:
    """The subject whose key seals this (sealed) event's personal fields; None when the stored
    data names none (altered)."""
    try:
        return _subject_id(str(data[event_class(event_type).subject]))
    except (KeyError, ValueError):
        return None


def _subject_id(text: str) -> UUID:
    """The id `text` spells, read by asyncpg's parser (a UUID subclass, equal and hashing
    alike) where it can: `uuid.UUID`'s pure-Python parsing cost a rebuild a microsecond per
    sealed event, twice (its key looked up, then its fields opened). The forms only `uuid.UUID`
    reads (braces, a urn: prefix) still read as it reads them."""
    try:
        parsed: UUID = FastUUID(text)
    except ValueError:
        return UUID(text)
    return parsed


def sealed_data(
    event: type[DomainEvent], data: dict[str, Any], data_key: bytes, event_id: UUID
) -> dict[str, Any]:
    personal = {name: data[name] for name in event.personal}
    kept = {name: value for name, value in data.items() if name not in event.personal}
    return {**kept, SEALED: seal(data_key, personal, event_id)}


def opened_data(event_type: str, data: dict[str, Any], key: SubjectKey, event_id: UUID) -> Opened:
    rest = dict(data)
    sealed = rest.pop(SEALED)
    nonce, ciphertext = (
        (sealed.get("nonce"), sealed.get("ct")) if isinstance(sealed, dict) else (None, None)
    )
    return opened_parts(event_type, rest, nonce, ciphertext, key, event_id)


def opened_parts(
    event_type: str,
    rest: dict[str, Any],
    nonce: str | None,
    ciphertext: str | None,
    key: SubjectKey,
    event_id: UUID,
) -> Opened:
    """`opened_data` for data the reader has taken apart: `rest`, the data without its sealed
    member (the reader's own: the opened data is made in it), and that member's `nonce` and
    `ct` as stored, None where it has none (altered: the event reads as unreadable).
    `opened_data` takes the stored data apart and comes here: one way of opening for both."""
    if isinstance(key, AESGCM):
        try:
            rest.update(open_parts(key, nonce, ciphertext, event_id))  # type: ignore[arg-type]
            return Opened(rest, unreadable=False)
        except _CANNOT_OPEN:
            key = Redaction.UNREADABLE
    return _redacted(event_type, rest, key)


def _redacted(event_type: str, opened: dict[str, Any], why: Redaction) -> Opened:
    """The data with its personal fields redacted (the sealed member already out)."""
    opened.update({name: _redacted_value(hint, why) for name, hint in _personal(event_type)})
    return Opened(opened, unreadable=why is Redaction.UNREADABLE)


def withheld_data(data: dict[str, Any]) -> dict[str, Any]:
    """The data without its personal fields, for a reader not entitled to them: the sealed
    member is dropped unopened, so those fields are absent (not redacted: nothing was erased)."""
    return {name: value for name, value in data.items() if name != SEALED}


@functools.cache
def _personal(event_type: str) -> tuple[tuple[str, Any], ...]:
    """The event type's personal fields with their type hints (resolved once per type)."""
    event = event_class(event_type)
    hints = typing.get_type_hints(event)
    fields = {f.name for f in dataclasses.fields(event)}
    return tuple((name, hints[name]) for name in event.personal if name in fields)


def _redacted_value(hint: Any, why: Redaction) -> Any:
    if hint is str:
        return why.value
    if typing.get_origin(hint) is dict:
        return {}
    return None
