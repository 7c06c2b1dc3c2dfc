"""Request field types of the billing API: money and percentages as decimal strings only
(a JSON number is refused, so no float ever carries money)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema

from backend.billing.money import parse_amount, parse_percent


def _from_string(parse: Callable[[str], Decimal]) -> Callable[[Any], Decimal]:
    def validate(value: Any) -> Decimal:
        if not isinstance(value, str):
            msg = 'a decimal string such as "12.50", not a number'
            raise ValueError(msg)  # pydantic reports a ValueError as a 422
        return parse(value)

    return validate


def _schema(example: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d{1,2})?$", "example": example})


Amount = Annotated[Decimal, PlainValidator(_from_string(parse_amount)), _schema("12.50")]
"""0 or more, at most 2 decimal places."""

PositiveAmount = Annotated[
    Decimal,
    PlainValidator(_from_string(lambda text: parse_amount(text, positive=True))),
    _schema("12.50"),
]
"""0.01 or more, at most 2 decimal places."""

Percent = Annotated[Decimal, PlainValidator(_from_string(parse_percent)), _schema("15")]
"""0 to 100, at most 2 decimal places."""
