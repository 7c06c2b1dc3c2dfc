"""Aggregate state to JSON and back, driven by the state dataclass's type hints (for snapshots).

Covers what states are made of: dataclasses (nested too), UUID, Decimal, dates, times and
datetimes, str/int/float/bool, None, and tuples, lists, frozensets and dicts of those (dict keys
are strings in JSON, revived by the key type). `round_trips` lets a caller refuse to snapshot a
state this codec would not revive exactly, instead of trusting it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import types
import typing
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

Decoder = Callable[[Any], Any]


def encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted((encode(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {str(encode(k)): encode(v) for k, v in value.items()}
    return value


def decode(state_type: Any, data: Any) -> Any:
    return _decoder(state_type)(data)


def round_trips(state: Any) -> bool:
    try:
        return bool(decode(type(state), encode(state)) == state)
    except (TypeError, ValueError, KeyError):
        return False


@functools.cache
def _decoder(hint: Any) -> Decoder:
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _dataclass_decoder(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            return _identity
        item = _decoder(inner[0])
        return lambda v: None if v is None else item(v)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            each = _decoder(args[0])
            return lambda v: tuple(each(x) for x in v)
        parts = [_decoder(a) for a in args]
        return lambda v: tuple(p(x) for p, x in zip(parts, v, strict=True))
    if origin in (list, frozenset, set):
        each = _decoder(args[0]) if args else _identity
        build: Callable[[Any], Any] = origin
        return lambda v: build(each(x) for x in v)
    if origin is dict:
        key, value = (_decoder(a) for a in args) if args else (_identity, _identity)
        return lambda v: {key(k): value(x) for k, x in v.items()}
    return _SCALARS.get(hint, _identity)


def _dataclass_decoder(cls: type[Any]) -> Decoder:
    hints = typing.get_type_hints(cls)
    fields = [(f.name, _decoder(hints[f.name])) for f in dataclasses.fields(cls) if f.init]

    def revive(data: dict[str, Any]) -> Any:
        return cls(**{name: decode_field(data[name]) for name, decode_field in fields})

    return revive


def _identity(value: Any) -> Any:
    return value


_SCALARS: dict[Any, Decoder] = {
    dt.datetime: dt.datetime.fromisoformat,
    dt.date: dt.date.fromisoformat,
    dt.time: dt.time.fromisoformat,
    UUID: UUID,
    Decimal: Decimal,
}
