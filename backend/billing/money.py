"""Money rules: amounts are Decimal with two places (the minor unit of every currency we take),
parsed from strings only, and rounded half up where a percentage splits a cent."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal("100")
MAX_AMOUNT = Decimal("999999999.99")
"""The largest single amount (unit price, payment, refund) accepted: numeric(14,2) holds sums."""


def parse_amount(text: str, *, positive: bool = False) -> Decimal:
    """A decimal string with at most two places, from 0 (or 0.01 when `positive`) to MAX_AMOUNT.

    Raises ValueError with a message fit for a 422 naming the field."""
    number = _decimal(text)
    if _places(number) > 2:
        msg = "at most 2 decimal places"
        raise ValueError(msg)
    low = CENT if positive else ZERO
    if not low <= number <= MAX_AMOUNT:
        msg = f"from {low} to {MAX_AMOUNT}"
        raise ValueError(msg)
    return number.quantize(CENT)


def parse_percent(text: str) -> Decimal:
    """A percentage from 0 to 100 with at most two places."""
    number = _decimal(text)
    if _places(number) > 2 or not 0 <= number <= HUNDRED:
        msg = 'a decimal string from "0" to "100" with at most 2 decimal places'
        raise ValueError(msg)
    return number.quantize(CENT)


def percent_of(amount: Decimal, percent: Decimal) -> Decimal:
    """`percent` % of `amount`, rounded half up to the cent."""
    return (amount * percent / HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)


def _decimal(text: str) -> Decimal:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        msg = 'a decimal string such as "12.50"'
        raise ValueError(msg)
    return number


def _places(number: Decimal) -> int:
    """Places as written: "12.500" has three (a client sending them meant something)."""
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite numbers only
    return max(0, -exponent)
