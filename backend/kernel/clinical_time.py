"""When a clinical fact happened (valid time) as opposed to when it was recorded.

A fact may be charted late, within the tenant's policy, but never ahead of the clock.
"""

from __future__ import annotations

import datetime as dt

from backend.kernel.errors import Invalid


def occurred_at(
    claimed: dt.datetime | None,
    now: dt.datetime,
    max_late: dt.timedelta,
    field: str = "occurred_at",
) -> dt.datetime:
    """The valid time of a fact: `claimed` if given and allowed, else now. `field` is the
    request field a refusal names (admitted_at, discharged_at, ...)."""
    if claimed is None:
        return now
    if claimed > now:
        raise Invalid(field, "must not be in the future")
    if now - claimed > max_late:
        hours = int(max_late.total_seconds() // 3600)
        raise Invalid(field, f"may be at most {hours} hours in the past (tenant policy)")
    return claimed
