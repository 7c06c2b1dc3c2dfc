"""Domain events as frozen dataclasses, and their (de)serialisation to plain JSON data.

An event class is registered under its type name; `to_data` / `from_data` convert it to and from
the JSON object stored in the event store, using the dataclass field types to revive dates, times,
UUIDs and decimals.

Stored events are never rewritten. When an event's shape changes, its class bumps
`schema_version` and registers an upcaster from the old version; `revive` runs the chain of
upcasters over an old stored shape before decoding it, so domain code only knows the current one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import types
import typing
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from backend.kernel import values


@dataclasses.dataclass(frozen=True)
class DomainEvent:
    """Base of every domain event. `schema_version` is bumped when the shape changes."""

    schema_version: ClassVar[int] = 1
    personal: ClassVar[tuple[str, ...]] = ()
    """Fields holding personal data: stored encrypted with the subject's key (backend.privacy)."""
    subject: ClassVar[str] = ""
    """The field naming whose personal data this is (e.g. patient_id), when `personal` is set."""

    @classmethod
    def type_name(cls) -> str:
        return cls.__name__


E = TypeVar("E", bound=type[DomainEvent])
_REGISTRY: dict[str, type[DomainEvent]] = {}


def register(cls: E) -> E:
    """Class decorator: make an event type known to the codec."""
    name = cls.type_name()
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        msg = f"event type {name} registered twice"
        raise ValueError(msg)
    _REGISTRY[name] = cls
    return cls


def event_class(type_name: str) -> type[DomainEvent]:
    try:
        return _REGISTRY[type_name]
    except KeyError as e:
        msg = f"unknown event type {type_name}"
        raise KeyError(msg) from e


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Decorator: turn `type_name`'s data at `from_version` into its shape at the next version."""

    def add(fn: Upcaster) -> Upcaster:
        _UPCASTERS[(type_name, from_version)] = fn
        return fn

    return add


def upcast(type_name: str, schema_version: int, data: dict[str, Any]) -> dict[str, Any]:
    current = event_class(type_name).schema_version
    if schema_version > current:
        msg = f"{type_name} v{schema_version} is newer than this code (v{current})"
        raise ValueError(msg)
    for version in range(schema_version, current):
        try:
            step = _UPCASTERS[(type_name, version)]
        except KeyError as e:
            msg = f"no upcaster for {type_name} v{version}"
            raise KeyError(msg) from e
        data = step(data)
    return data


class StoredEvent(typing.Protocol):
    @property
    def event_type(self) -> str: ...

    @property
    def schema_version(self) -> int: ...

    @property
    def data(self) -> dict[str, Any]: ...


def revive(stored: StoredEvent) -> DomainEvent:
    """A stored event as the current shape of its class."""
    return revive_data(stored.event_type, stored.schema_version, stored.data)


def revive_data(event_type: str, schema_version: int, data: dict[str, Any]) -> DomainEvent:
    """`revive` for a reader that holds the stored columns rather than an event object (a
    rebuild reading rows by the thousand)."""
    if schema_version != event_class(event_type).schema_version:
        data = upcast(event_type, schema_version, data)
    return from_data(event_type, data)


def to_data(event: DomainEvent) -> dict[str, Any]:
    return {f.name: _encode(getattr(event, f.name)) for f in dataclasses.fields(event)}


def from_data(type_name: str, data: dict[str, Any]) -> DomainEvent:
    cls, plain, decoded = _decoders(type_name)
    kwargs = {name: data[name] for name in plain if name in data}
    for name, decode in decoded:
        if name in data:
            value = data[name]
            kwargs[name] = None if value is None else decode(value)
    return values.make(cls, kwargs)


Decoder = Callable[[Any], Any]


@functools.cache
def _decoders(
    type_name: str,
) -> tuple[type[DomainEvent], tuple[str, ...], tuple[tuple[str, Decoder], ...]]:
    """The class, the fields whose JSON value is already theirs, and a decoder for each other
    field; built from the types once per event type (resolving annotations and inspecting types
    per event would dominate replay time, and so did calling a no-op decoder per field)."""
    cls = event_class(type_name)
    hints = typing.get_type_hints(cls)
    fields = [(f.name, _decoder(hints[f.name])) for f in dataclasses.fields(cls)]
    plain = tuple(name for name, decode in fields if decode is _identity)
    return cls, plain, tuple((name, d) for name, d in fields if d is not _identity)


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decoder(hint: Any) -> Decoder:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(inner) != 1:
            return _identity
        return _decoder(inner[0])  # None never reaches a decoder (see from_data)
    if origin is tuple:
        item = _decoder(typing.get_args(hint)[0])
        return lambda value: tuple(item(v) for v in value)
    return _SCALARS.get(hint, _identity)


def _identity(value: Any) -> Any:
    return value


_SCALARS: dict[Any, Decoder] = {
    dt.datetime: dt.datetime.fromisoformat,
    dt.date: dt.date.fromisoformat,
    UUID: UUID,
    Decimal: Decimal,
}
