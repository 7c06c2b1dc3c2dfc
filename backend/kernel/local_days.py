"""Calendar days in a time zone: a clinic's day is its own midnight to midnight, not UTC's.

A day is 23 or 25 hours where daylight saving time begins or ends; the bounds are the instants
the zone's clocks read 00:00 on the day and on the next one.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def day_bounds(day: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of `day` in `zone`, as UTC instants."""
    start = dt.datetime.combine(day, dt.time(), zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def offset_problem(typed: dt.datetime, zone: ZoneInfo) -> str | None:
    """Why a time typed with an offset cannot be taken as it stands: the offset is one the
    zone uses at another time of the year, not at that moment (EDT's -04:00 typed for a
    December day in New York, whose offset is then EST's -05:00): the wall clock and the instant
    disagree, and which was meant cannot be known. An offset of UTC, of the zone at that moment,
    or of somewhere else altogether (a partner elsewhere) is an instant as it stands."""
    offset = typed.utcoffset()
    local = typed.astimezone(zone).utcoffset()
    if offset is None or offset == local:
        return None
    if offset not in _offsets_in_year(zone, typed.year):
        return None
    return (
        f"the offset {_offset(offset)} is not {zone.key}'s on {typed.date().isoformat()}"
        f" ({_offset(local)}): give the clinic's local time with {_offset(local)}, or UTC"
    )


def _offsets_in_year(zone: ZoneInfo, year: int) -> set[dt.timedelta | None]:
    """The offsets the zone's clocks keep in `year` (one a month is enough to see DST)."""
    return {dt.datetime(year, month, 1, 12, tzinfo=zone).utcoffset() for month in range(1, 13)}


def _offset(offset: dt.timedelta | None) -> str:
    minutes = int((offset or dt.timedelta()).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
