"""Money rules: amounts are Decimal, parsed from plain ASCII decimal strings by one function
(`parse_decimal`), held to their currency's minor unit (ISO 4217, from the `iso4217` package:
JPY 0 places, USD 2, KWD 3; more places are refused, never rounded), and rounded half up where a
percentage splits a minor unit."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from iso4217 import Currency

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal("100")
MAX_AMOUNT = Decimal("999999999.99")
"""The largest single amount (unit price, payment, refund) in any currency."""
PERCENT_PLACES = 2
PLAIN_DECIMAL = r"^[0-9]+(\.[0-9]+)?$"
"""Digits 0-9, optionally a point and more digits: no sign, exponent, spaces, underscores,
thousands separators or other scripts' digits."""
_PLAIN = re.compile(PLAIN_DECIMAL)
_CODE = re.compile(r"^[A-Z]{3}$")


def parse_decimal(text: str) -> Decimal:
    """The one parser of decimal strings (money, percentages, thresholds). Keeps the places as
    written ("12.500" has three: a client sending them meant something). Raises ValueError with
    a message fit for a 422 naming the field."""
    if not _PLAIN.fullmatch(text):
        msg = 'a plain decimal string such as "12.50" (digits 0-9 and one point)'
        raise ValueError(msg)
    return Decimal(text)


def minor_units(currency: str) -> int:
    """The currency's minor unit (decimal places) from ISO 4217. ValueError for a code that is
    not an ISO 4217 currency or has no minor unit (gold, test codes: not money we bill in)."""
    msg = "an ISO 4217 currency code such as USD, EUR or JPY"
    if not _CODE.fullmatch(currency):
        raise ValueError(msg)
    try:
        exponent = Currency(currency).exponent
    except ValueError:
        raise ValueError(msg) from None
    if exponent is None:
        raise ValueError(msg)
    return int(exponent)


def unit(currency: str) -> Decimal:
    """The currency's smallest amount: 1 for JPY, 0.01 for USD, 0.001 for KWD; 0.01 for a code
    that is not ISO 4217 (recorded before codes were checked: folding it must still work)."""
    try:
        return _unit(minor_units(currency))
    except ValueError:
        return CENT


def in_currency(number: Decimal, currency: str, *, positive: bool = False) -> Decimal:
    """`number` as an amount of `currency`: at most its minor unit's places, from 0 (or one
    unit when `positive`) to MAX_AMOUNT; with exactly those places."""
    places = minor_units(currency)
    try:
        return in_places(number, places, positive=positive)
    except ValueError as e:
        raise ValueError(f"{e} ({currency})") from None


def in_places(number: Decimal, places: int, *, positive: bool = False) -> Decimal:
    if _places(number) > places:
        msg = f"at most {places} decimal places"
        raise ValueError(msg)
    low = _unit(places) if positive else Decimal(0)
    if not low <= number <= MAX_AMOUNT:
        msg = f"from {low} to {MAX_AMOUNT}"
        raise ValueError(msg)
    return number.quantize(_unit(places))


def parse_money(text: str, currency: str, *, positive: bool = False) -> Decimal:
    return in_currency(parse_decimal(text), currency, positive=positive)


def parse_amount(text: str, *, positive: bool = False) -> Decimal:
    """An amount with at most two places where the currency is not known yet (a visit's
    services are priced before billing; the VisitSignedOff contract's prices have two)."""
    return in_places(parse_decimal(text), 2, positive=positive)


def parse_percent(text: str) -> Decimal:
    """A percentage from 0 to 100 with at most two places, with exactly two (discounts)."""
    return percent(parse_decimal(text)).quantize(CENT)


def percent(number: Decimal) -> Decimal:
    """`number` if it is a percentage from 0 to 100 with at most two places, as written."""
    if _places(number) > PERCENT_PLACES or not 0 <= number <= HUNDRED:
        msg = f'a decimal string from "0" to "100" with at most {PERCENT_PLACES} decimal places'
        raise ValueError(msg)
    return number


def percent_of(amount: Decimal, percent: Decimal, currency: str) -> Decimal:
    """`percent` % of `amount`, rounded half up to the currency's minor unit."""
    return (amount * percent / HUNDRED).quantize(unit(currency), rounding=ROUND_HALF_UP)


def show(amount: Decimal, currency: str) -> str:
    """An amount as responses send it: with its currency's places. An amount recorded with more
    places than that (before they were enforced) is shown as recorded, never rounded."""
    shown = amount.quantize(unit(currency))
    return str(shown) if shown == amount else str(amount)


def _unit(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def _places(number: Decimal) -> int:
    """Places as written."""
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite numbers only
    return max(0, -exponent)
