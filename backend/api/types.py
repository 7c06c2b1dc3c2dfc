"""Field types for request bodies and queries: what PostgreSQL can store, refused early with a
422 naming the field instead of failing deep in the driver."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime


def _storable_text(value: str) -> str:
    if "\x00" in value:
        msg = "must not contain the NUL character"
        raise ValueError(msg)
    return value


def _utc(value: dt.datetime) -> dt.datetime:
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as e:
        msg = "is outside the representable range of times"
        raise ValueError(msg) from e


Text = Annotated[str, AfterValidator(_storable_text)]
"""A string PostgreSQL text and jsonb can hold."""

Instant = Annotated[AwareDatetime, AfterValidator(_utc)]
"""A point in time with an offset, normalised to UTC."""

MAX_VERSION = 2**53
"""Stream versions are bigints; anything larger cannot name a version."""
