"""The one place that says how values orjson does not know natively become JSON."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID


def json_default(value: Any) -> str:
    """asyncpg returns its own UUID subclass, which orjson does not take; decimals are money."""
    if isinstance(value, UUID | Decimal):
        return str(value)
    raise TypeError(type(value).__name__)
