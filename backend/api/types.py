"""Field types for request bodies and queries: what PostgreSQL can store, refused early with a
422 naming the field instead of failing deep in the driver."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, WithJsonSchema


def _utc(value: dt.datetime) -> dt.datetime:
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as e:
        msg = "is outside the representable range of times"
        raise ValueError(msg) from e


Text = Annotated[str, Field(pattern="^[^\\x00]*$")]
"""A string PostgreSQL text and jsonb can hold: anything but the NUL character (a field with a
pattern of its own replaces this one, and excludes NUL too)."""

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _rfc3339_text(value: Any) -> Any:
    """Times come as RFC 3339 text, as the schema says (format date-time): not a number of
    seconds, which pydantic would otherwise read as one."""
    if isinstance(value, str) and not _RFC3339.match(value):
        msg = "must be an RFC 3339 time with an offset, e.g. 2031-05-14T09:00:00+00:00"
        raise ValueError(msg)
    if isinstance(value, int | float):
        msg = "must be an RFC 3339 time with an offset, not a number"
        raise ValueError(msg)
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_utc)]
"""A point in time with an offset, normalised to UTC."""


def _representable(value: dt.datetime) -> dt.datetime:
    """The time as typed, once it is known to have a UTC instant."""
    _utc(value)
    return value


TypedInstant = Annotated[
    AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_representable)
]
"""A point in time with the offset it was typed with (checked against the clinic's time zone
where the typing matters: a booking)."""


def _whole(value: Any) -> Any:
    """A JSON integer, as JSON Schema counts them (3 and 3.0), never a string or a boolean."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = "must be a whole number"
        raise ValueError(msg)
    if isinstance(value, float) and not value.is_integer():
        msg = "must be a whole number"
        raise ValueError(msg)
    return int(value)


AS_WHOLE = BeforeValidator(_whole)
Whole = Annotated[int, AS_WHOLE]
"""A whole number given as a JSON number. Bounded, and optional: `Annotated[int, Field(ge=..,
le=..), AS_WHOLE] | None`, the bounds before the validator, or the OpenAPI document would not
show them (pydantic then writes them as `ge`/`le`, which JSON Schema does not know)."""


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        msg = "must be a number"
        raise ValueError(msg)
    return value


Measure = Annotated[Decimal, BeforeValidator(_number), WithJsonSchema({"type": "number"})]
"""A measurement given as a JSON number (money is never one: see billing/schemas.py)."""

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_day(value: Any) -> Any:
    if isinstance(value, str) and not _ISO_DAY.match(value):
        msg = "must be a date YYYY-MM-DD"
        raise ValueError(msg)
    if isinstance(value, int | float):
        msg = "must be a date YYYY-MM-DD, not a number"
        raise ValueError(msg)
    return value


Day = Annotated[dt.date, BeforeValidator(_iso_day)]
"""A calendar day as YYYY-MM-DD (pydantic alone would read "0" as 1970-01-01)."""

MAX_VERSION = 2**53
"""Stream versions are bigints; anything larger cannot name a version."""
