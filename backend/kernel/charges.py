"""A priced line: the rules every charge keeps, whether a visit's billable service (priced
before its invoice's currency is known) or an invoice's line. Shared by the visits and billing
contexts, so that a service accepted at the visit is a line billing accepts."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from backend.kernel import money
from backend.kernel.errors import Invalid

MAX_QUANTITY = 10_000
MAX_LINES = 200
MAX_CODE = 50
MAX_DESCRIPTION = 500


@dataclass(frozen=True)
class NewLine:
    """A line as asked for, before it has an id."""

    code: str
    description: str
    quantity: int
    unit_price: Decimal


def check_line(new: NewLine, currency: str | None = None) -> None:
    """Raises Invalid naming the line's field at fault. The unit price has at most the
    currency's places (two where the currency is not known yet: a visit's services)."""
    if not 1 <= len(new.code.strip()) <= MAX_CODE:
        raise Invalid("code", f"1 to {MAX_CODE} characters, not blank")
    if not 1 <= len(new.description.strip()) <= MAX_DESCRIPTION:
        raise Invalid("description", f"1 to {MAX_DESCRIPTION} characters, not blank")
    if not 1 <= new.quantity <= MAX_QUANTITY:
        raise Invalid("quantity", f"a whole number from 1 to {MAX_QUANTITY}")
    try:
        if currency is None:
            money.in_places(new.unit_price, 2)
        else:
            money.in_currency(new.unit_price, currency)
    except ValueError as e:
        raise Invalid("unit_price", str(e)) from None
