"""A tenant's policy: the settings its clinic or hospital chose, checked before they are recorded.

Every field has a default, so a tenant created before a field existed folds to a sensible value.
Recorded values are folded as recorded (`apply`): a rule tightened later (ISO 4217 codes, two
places for percentages) refuses new values, never a tenant's history.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from backend.auth.api_keys import DEFAULT_KEY_PER_MINUTE, DEFAULT_TENANT_PER_MINUTE, MAX_PER_MINUTE
from backend.kernel import money, phones
from backend.kernel.errors import Invalid

KINDS = frozenset({"clinic", "hospital"})
DOUBLE_BOOKING = frozenset({"refuse", "warn"})


@dataclass(frozen=True)
class TenantPolicy:
    kind: str = "clinic"
    currency: str = "USD"
    timezone: str = "UTC"
    phone_region: str = phones.DEFAULT_REGION
    """The ISO 3166 region a phone typed without its country code is read in."""
    checkin_opens_before_min: int = 30
    checkin_closes_after_min: int = 120
    late_charting_max_hours: int = 72
    """How far in the past a clinical fact may be charted (its occurred_at)."""
    discount_threshold_percent: Decimal = Decimal("10")
    """Discounts above this share of an invoice need CLINIC_ADMIN or FINANCE_BILLING."""
    invoice_max_total: Decimal = money.MAX_AMOUNT
    """The largest invoice subtotal (and total) in the tenant's currency; by default what one
    payment may carry."""
    quiet_hours_start: dt.time = dt.time(21, 0)
    quiet_hours_end: dt.time = dt.time(8, 0)
    """No patient message is sent between start and end, in the tenant's time zone."""
    results_auto_release_days: int = 0
    """A lab result a clinician has not released reaches its patient this many days after it
    was reported (or last amended); 0: only when a clinician releases it."""
    patient_double_booking: str = "refuse"
    """A booking that puts a patient in two places at once (overlapping another of their
    appointments, with another practitioner): refused, or booked with a warning."""
    api_rate_limit_per_minute: int = DEFAULT_KEY_PER_MINUTE
    """Requests a minute each partner API key may make, unless it was made with its own."""
    api_tenant_rate_limit_per_minute: int = DEFAULT_TENANT_PER_MINUTE
    """Requests a minute all the tenant's API keys together may make."""
    waitlist_offer_minutes: int = 30
    """How long a patient on a waitlist has to accept a slot offered to them before it passes
    to the next in line (backend/scheduling/waitlist.py)."""
    break_glass_required: bool = False
    """A doctor reading a visit that is neither theirs nor one they cover must say why
    (`X-Access-Reason`): the read is recorded as breaking the glass (backend/api/access.py)."""

    hold_minutes: int = 10
    """How long a hold on a slot (POST /v1/holds) lasts unconfirmed."""
    no_show_after_min: int | None = None
    """Minutes after its start an appointment nobody checked in for becomes a no-show by itself
    (backend/scheduling/timers.py); None: only staff mark no-shows."""

    @property
    def max_late(self) -> dt.timedelta:
        """How far in the past a clinical fact may be charted."""
        return dt.timedelta(hours=self.late_charting_max_hours)


FIELDS = tuple(f.name for f in dataclasses.fields(TenantPolicy))
RATE_LIMITS = frozenset({"api_rate_limit_per_minute", "api_tenant_rate_limit_per_minute"})
"""The fields authentication of an API key reads (backend/auth/api_keys.py keeps a copy)."""


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
    """The policy after recorded changes, taken as recorded (they were checked when made)."""
    recorded = {k: _RECORDED.get(k, _as_is)(v) for k, v in json_changes.items() if k in FIELDS}
    return dataclasses.replace(policy, **recorded)


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


def _double_booking(name: str, value: Any) -> str:
    if value not in DOUBLE_BOOKING:
        raise Invalid(name, f"must be one of {', '.join(sorted(DOUBLE_BOOKING))}")
    return str(value)


def _currency(name: str, value: Any) -> str:
    try:
        money.minor_units(value if isinstance(value, str) else "")
    except ValueError as e:
        raise Invalid(name, str(e)) from None
    return str(value)


def _timezone(name: str, value: Any) -> str:
    if not isinstance(value, str) or value not in zoneinfo.available_timezones():
        raise Invalid(name, "an IANA time zone such as Europe/Berlin")
    return value


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(name, "true or false")
    return value


def _days(name: str, value: Any) -> int:
    return _int_between(name, value, 0, 365)


def _region(name: str, value: Any) -> str:
    if value not in phones.REGIONS:
        raise Invalid(name, "an ISO 3166-1 alpha-2 region with a numbering plan, such as US or DE")
    return str(value)


def _minutes(name: str, value: Any) -> int:
    return _int_between(name, value, 0, 24 * 60)


def _offer_minutes(name: str, value: Any) -> int:
    return _int_between(name, value, 1, 24 * 60)


def _hours(name: str, value: Any) -> int:
    return _int_between(name, value, 0, 24 * 365)


def _hold_minutes(name: str, value: Any) -> int:
    return _int_between(name, value, 1, 24 * 60)


def _grace(name: str, value: Any) -> int | None:
    """Minutes, or null: off."""
    return None if value is None else _minutes(name, value)


def _per_minute(name: str, value: Any) -> int:
    return _int_between(name, value, 1, MAX_PER_MINUTE)


def _int_between(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid(name, f"a whole number from {low} to {high}")
    return value


def _percent(name: str, value: Any) -> Decimal:
    try:
        return money.percent(money.parse_decimal(value if isinstance(value, str) else ""))
    except ValueError as e:
        raise Invalid(name, str(e)) from None


def _cap(name: str, value: Any) -> Decimal:
    try:
        number = money.parse_decimal(value if isinstance(value, str) else "")
        return money.in_places(number, 2, positive=True)
    except ValueError as e:
        raise Invalid(name, str(e)) from None


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
    "phone_region": _region,
    "checkin_opens_before_min": _minutes,
    "checkin_closes_after_min": _minutes,
    "late_charting_max_hours": _hours,
    "discount_threshold_percent": _percent,
    "invoice_max_total": _cap,
    "quiet_hours_start": _clock,
    "quiet_hours_end": _clock,
    "results_auto_release_days": _days,
    "waitlist_offer_minutes": _offer_minutes,
    "patient_double_booking": _double_booking,
    "api_rate_limit_per_minute": _per_minute,
    "api_tenant_rate_limit_per_minute": _per_minute,
    "break_glass_required": _flag,
    "hold_minutes": _hold_minutes,
    "no_show_after_min": _grace,
}


def _as_is(value: Any) -> Any:
    return value


_RECORDED: dict[str, Callable[[Any], Any]] = {
    "discount_threshold_percent": lambda v: Decimal(str(v)),
    "invoice_max_total": lambda v: Decimal(str(v)),
    "quiet_hours_start": dt.time.fromisoformat,
    "quiet_hours_end": dt.time.fromisoformat,
}
"""How a recorded JSON value becomes the policy's type (fields not named here are kept)."""
