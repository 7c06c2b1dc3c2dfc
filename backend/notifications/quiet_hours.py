"""Quiet hours (pure): no patient message is sent between the policy's start and end, read in the
tenant's time zone. A window whose start is after its end crosses midnight (21:00-08:00); equal
start and end mean no quiet hours."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo


def outside_quiet_hours(
    due: dt.datetime, start: dt.time, end: dt.time, timezone: str
) -> dt.datetime:
    """`due` itself, or the end of the quiet hours it falls in (in UTC)."""
    if start == end:
        return due
    zone = ZoneInfo(timezone)
    local = due.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside, end_day = start <= clock < end, local.date()
    elif clock >= start:
        inside, end_day = True, local.date() + dt.timedelta(days=1)
    else:
        inside, end_day = clock < end, local.date()
    if not inside:
        return due
    return dt.datetime.combine(end_day, end, tzinfo=zone).astimezone(dt.UTC)


@dataclass(frozen=True)
class QuietHours:
    """A tenant's quiet hours as its policy says now."""

    start: dt.time
    end: dt.time
    timezone: str

    def end_after(self, moment: dt.datetime) -> dt.datetime:
        """`moment` itself, or the end of the quiet hours it falls in."""
        return outside_quiet_hours(moment, self.start, self.end, self.timezone)
