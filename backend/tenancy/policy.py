"""A tenant's policy: the settings its clinic or hospital chose, checked before they are recorded.

Every field has a default, so a tenant created before a field existed folds to a sensible value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from backend.kernel.errors import Invalid

KINDS = frozenset({"clinic", "hospital"})
CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class TenantPolicy:
    kind: str = "clinic"
    currency: str = "USD"
    timezone: str = "UTC"
    checkin_opens_before_min: int = 30
    checkin_closes_after_min: int = 120
    late_charting_max_hours: int = 72
    """How far in the past a clinical fact may be charted (its occurred_at)."""
    discount_threshold_percent: Decimal = Decimal("10")
    """Discounts above this share of an invoice need CLINIC_ADMIN or FINANCE_BILLING."""
    quiet_hours_start: dt.time = dt.time(21, 0)
    quiet_hours_end: dt.time = dt.time(8, 0)
    """No patient message is sent between start and end, in the tenant's time zone."""

    @property
    def max_late(self) -> dt.timedelta:
        """How far in the past a clinical fact may be charted."""
        return dt.timedelta(hours=self.late_charting_max_hours)


FIELDS = tuple(f.name for f in dataclasses.fields(TenantPolicy))


def parse_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """Typed, checked values for the given policy fields (JSON in, Python values out)."""
    parsed: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in FIELDS:
            raise Invalid(name, "not a policy setting")
        parsed[name] = _PARSERS[name](name, value)
    return parsed


def to_json(changes: dict[str, Any]) -> dict[str, Any]:
    return {k: _json(v) for k, v in changes.items()}


def apply(policy: TenantPolicy, json_changes: dict[str, Any]) -> TenantPolicy:
    return dataclasses.replace(policy, **parse_changes(json_changes))


def view(policy: TenantPolicy) -> dict[str, Any]:
    return {name: _json(getattr(policy, name)) for name in FIELDS}


def _json(value: Any) -> Any:
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, Decimal):
        return str(value)
    return value


def _kind(name: str, value: Any) -> str:
    if value not in KINDS:
        raise Invalid(name, f"must be one of {', '.join(sorted(KINDS))}")
    return str(value)


def _currency(name: str, value: Any) -> str:
    if not isinstance(value, str) or not CURRENCY.fullmatch(value):
        raise Invalid(name, "an ISO 4217 code such as USD or EUR")
    return value


def _timezone(name: str, value: Any) -> str:
    if not isinstance(value, str) or value not in zoneinfo.available_timezones():
        raise Invalid(name, "an IANA time zone such as Europe/Berlin")
    return value


def _minutes(name: str, value: Any) -> int:
    return _int_between(name, value, 0, 24 * 60)


def _hours(name: str, value: Any) -> int:
    return _int_between(name, value, 0, 24 * 365)


def _int_between(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid(name, f"a whole number from {low} to {high}")
    return value


def _percent(name: str, value: Any) -> Decimal:
    try:
        number = Decimal(str(value)) if isinstance(value, str | int) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or not 0 <= number <= 100:
        raise Invalid(name, 'a decimal string from "0" to "100"')
    return number


def _clock(name: str, value: Any) -> dt.time:
    try:
        return dt.time.fromisoformat(value) if isinstance(value, str) else _bad_clock(name)
    except ValueError:
        return _bad_clock(name)


def _bad_clock(name: str) -> dt.time:
    raise Invalid(name, "a time of day such as 21:00")


_PARSERS = {
    "kind": _kind,
    "currency": _currency,
    "timezone": _timezone,
    "checkin_opens_before_min": _minutes,
    "checkin_closes_after_min": _minutes,
    "late_charting_max_hours": _hours,
    "discount_threshold_percent": _percent,
    "quiet_hours_start": _clock,
    "quiet_hours_end": _clock,
}
