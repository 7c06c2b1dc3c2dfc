"""Invoices drafted for a visit by a reaction: a deterministic invoice id per visit and the
lines from the visit's services (pure)."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from backend.kernel.charges import NewLine, check_line
from backend.kernel.errors import Invalid
from backend.kernel.money import parse_amount


def visit_invoice_id(visit_id: UUID) -> UUID:
    """The one invoice a visit gets: drafting it again finds the same stream."""
    return uuid5(NAMESPACE_URL, f"caretrail:invoice:visit:{visit_id}")


def line_id(invoice_id: UUID, index: int) -> UUID:
    return uuid5(invoice_id, f"line:{index}")


def lines_from_services(services: list[dict[str, Any]]) -> list[NewLine]:
    """Each service is {"code", "description", "quantity" (int), "unit_price" (decimal string)}."""
    return [_line(f"services[{i}]", service) for i, service in enumerate(services)]


def _line(where: str, service: dict[str, Any]) -> NewLine:
    code, description = service.get("code"), service.get("description")
    quantity, unit_price = service.get("quantity"), service.get("unit_price")
    if not isinstance(code, str):
        raise Invalid(f"{where}.code", "a string")
    if not isinstance(description, str):
        raise Invalid(f"{where}.description", "a string")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise Invalid(f"{where}.quantity", "a whole number")
    if not isinstance(unit_price, str):
        raise Invalid(f"{where}.unit_price", 'a decimal string such as "12.50"')
    try:
        price = parse_amount(unit_price)
    except ValueError as e:
        raise Invalid(f"{where}.unit_price", str(e)) from e
    line = NewLine(code, description, quantity, price)
    try:
        check_line(line)
    except Invalid as e:
        raise Invalid(f"{where}.{e.field}", e.message) from e
    return line
