"""Request field types of the billing API: money and percentages as plain decimal strings only
(a JSON number is refused, so no float ever carries money), parsed by money.parse_decimal.

An amount's places are checked against its currency where the currency is known (the invoice's,
the payment's): in the model, as a 422 naming the field."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema

from backend.kernel.money import MAX_AMOUNT, PLAIN_DECIMAL, parse_decimal, parse_percent


def _from_string(parse: Callable[[str], Decimal]) -> Callable[[Any], Decimal]:
    def validate(value: Any) -> Decimal:
        if not isinstance(value, str):
            msg = 'a decimal string such as "12.50", not a number'
            raise ValueError(msg)  # pydantic reports a ValueError as a 422
        return parse(value)

    return validate


def _amount(*, positive: bool) -> Callable[[str], Decimal]:
    def parse(text: str) -> Decimal:
        number = parse_decimal(text)
        if positive and number == 0:
            msg = "must be more than 0"
            raise ValueError(msg)
        if number >= WHOLE_LIMIT:  # more places than the currency has are refused with it
            msg = f"at most {MAX_AMOUNT}"
            raise ValueError(msg)
        return number

    return parse


def _schema(example: str, pattern: str = PLAIN_DECIMAL) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": pattern, "example": example})


WHOLE_LIMIT = MAX_AMOUNT.to_integral_value(rounding="ROUND_CEILING")
"""Nine digits before the point: the places after it are the currency's to check."""
_AMOUNT = r"0*[0-9]{1,9}(\.[0-9]+)?$"

Amount = Annotated[
    Decimal,
    PlainValidator(_from_string(_amount(positive=False))),
    _schema("12.50", f"^{_AMOUNT}"),
]
"""0 or more, places as the currency allows (checked where the currency is known)."""

PositiveAmount = Annotated[
    Decimal,
    PlainValidator(_from_string(_amount(positive=True))),
    _schema("12.50", f"^(?=[0-9.]*[1-9]){_AMOUNT}"),
]
"""More than 0, places as the currency allows (checked where the currency is known)."""

Percent = Annotated[
    Decimal,
    PlainValidator(_from_string(parse_percent)),
    _schema("15", r"^(0*100(\.0{1,2})?|0*[0-9]{1,2}(\.[0-9]{1,2})?)$"),
]
"""0 to 100, at most 2 decimal places."""
