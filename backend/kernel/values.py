"""Frozen dataclass values made and changed without their generated `__init__`.

A frozen dataclass's `__init__` sets each field through `object.__setattr__` (the class's own
refuses), and `dataclasses.replace` inspects every field in Python before calling it: for the
events a reader revives and the states an aggregate folds, by the thousand in a rebuild, that
was more than the work they carry (about a tenth of a rebuild's CPU time). `make` and `replaced`
give the same value (the same fields, with their defaults) by filling the instance's dict at
once. Only for classes whose `__init__` does nothing else: one with a
`__post_init__`, init-only or non-init fields, slots, or arguments that `__init__` would refuse
goes through `__init__` / `dataclasses.replace`, which also raise what they raise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

T = TypeVar("T")

_new = object.__new__
_set = object.__setattr__


class _Plan(NamedTuple):
    names: frozenset[str]
    """Every field (all of them `__init__` arguments)."""
    required: frozenset[str]
    """The fields without a default."""
    defaults: dict[str, Any]
    """Every field, in order, with its default (None where a factory makes it)."""
    factories: tuple[tuple[str, Callable[[], Any]], ...]


_PLANS: dict[type, _Plan | None] = {}


def _plan(cls: type) -> _Plan | None:
    """How to fill `cls`'s instances directly; None when only its `__init__` may."""
    try:
        return _PLANS[cls]
    except KeyError:
        plan = _PLANS[cls] = _planned(cls)
        return plan


def _planned(cls: type) -> _Plan | None:
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
        return None
    if "__slots__" in cls.__dict__ or not cls.__dataclass_params__.init:  # type: ignore[attr-defined]
        return None
    declared = cls.__dataclass_fields__.values()
    if any(f._field_type is dataclasses._FIELD_INITVAR for f in declared):  # type: ignore[attr-defined]
        return None
    fields = dataclasses.fields(cls)
    if any(not f.init for f in fields):
        return None
    defaults: dict[str, Any] = {}
    factories: list[tuple[str, Callable[[], Any]]] = []
    required: set[str] = set()
    for f in fields:
        defaults[f.name] = None if f.default is dataclasses.MISSING else f.default
        if f.default_factory is not dataclasses.MISSING:
            factories.append((f.name, f.default_factory))
        elif f.default is dataclasses.MISSING:
            required.add(f.name)
    return _Plan(frozenset(f.name for f in fields), frozenset(required), defaults, tuple(factories))


def make(cls: type[T], kwargs: dict[str, Any]) -> T:
    """`cls(**kwargs)`."""
    plan = _plan(cls)
    if plan is None or not plan.names.issuperset(kwargs):
        return cls(**kwargs)
    if len(kwargs) == len(plan.names):
        values = kwargs.copy()  # every field given (in the caller's order)
    elif plan.required <= kwargs.keys():
        values = plan.defaults.copy()
        for name, factory in plan.factories:
            if name not in kwargs:
                values[name] = factory()
        values.update(kwargs)
    else:
        return cls(**kwargs)  # raises what it raises
    made: T = _new(cls)
    _set(made, "__dict__", values)
    return made


def replaced(value: T, /, **changes: Any) -> T:
    """`dataclasses.replace(value, **changes)`."""
    plan = _plan(type(value))
    current = value.__dict__
    if plan is None or len(current) != len(plan.names) or not plan.names.issuperset(changes):
        return dataclasses.replace(value, **changes)  # type: ignore[type-var]
    values = current.copy()
    values.update(changes)
    made: T = _new(type(value))
    _set(made, "__dict__", values)
    return made
