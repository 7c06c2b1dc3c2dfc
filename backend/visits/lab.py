"""Lab orders of a visit: ordered → collected → reported, then amended as often as needed
(pure). Orders and results keep flowing after sign-off: results arrive later, and a wrong
result is corrected, never erased (the reported value stays in the order's `amendments`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent
from backend.visits.events import (
    LabOrdered,
    LabResultAmended,
    LabResultReleased,
    LabResultReported,
    LabSpecimenCollected,
)
from backend.visits.state import Visit, existing, iso, optional, required

NUMERIC = re.compile(r"(?:[<>]=?|[≤≥])?\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
"""A quantity, possibly with a comparator ("6.8", "<0.5", ">= 90"): such a value needs a unit."""
HAS_RESULT = frozenset({"reported", "amended"})


@dataclass(frozen=True)
class LabResult:
    value: str
    unit: str | None
    reference_range: str | None
    abnormal: bool
    comment: str | None


def checked(result: LabResult) -> LabResult:
    """Blank text is absent; a numeric value without its unit is refused (a potassium of
    "6.8" could be mmol/L or mg/dL). Dimensionless quantities take UCUM's "1" (or "[pH]")."""
    value = required("value", result.value)
    unit = optional(result.unit)
    if unit is None and NUMERIC.fullmatch(value):
        raise Invalid("unit", 'a numeric result needs its unit ("1" if it has none)')
    return LabResult(
        value, unit, optional(result.reference_range), result.abnormal, optional(result.comment)
    )


def order_lab(
    state: Visit, order_id: UUID, test_code: str, test_name: str, now: dt.datetime
) -> list[DomainEvent]:
    visit_id = existing(state)
    code, name = required("test_code", test_code), required("test_name", test_name)
    return [LabOrdered(visit_id, order_id, code, name, now)]


def collect_specimen(state: Visit, order_id: UUID, collected_at: dt.datetime) -> list[DomainEvent]:
    """`collected_at` was already checked against the clock and the late-charting policy."""
    order = _order_in(state, order_id, frozenset({"ordered"}), "collect a specimen for")
    if collected_at < dt.datetime.fromisoformat(order["ordered_at"]):
        raise Invalid("collected_at", f"before the test was ordered ({order['ordered_at']})")
    return [LabSpecimenCollected(existing(state), order_id, collected_at)]


def report_result(
    state: Visit, order_id: UUID, result: LabResult, by: str, now: dt.datetime
) -> list[DomainEvent]:
    _order_in(state, order_id, frozenset({"collected"}), "report a result for")
    r = checked(result)
    return [
        LabResultReported(
            existing(state),
            order_id,
            r.value,
            r.unit,
            r.reference_range,
            r.abnormal,
            r.comment,
            now,
            by,
        )
    ]


def amend_result(
    state: Visit, order_id: UUID, result: LabResult, reason: str, by: str, now: dt.datetime
) -> list[DomainEvent]:
    """A corrected result; nothing when it says what the current one says."""
    order = _order_in(state, order_id, HAS_RESULT, "amend the result of")
    r = checked(result)
    why = required("reason", reason)
    if dataclasses.asdict(r) == order["result"]:
        return []
    return [
        LabResultAmended(
            existing(state),
            order_id,
            r.value,
            r.unit,
            r.reference_range,
            r.abnormal,
            r.comment,
            why,
            by,
            now,
        )
    ]


def release_result(state: Visit, order_id: UUID, by: str, now: dt.datetime) -> list[DomainEvent]:
    """The current result released to the patient; nothing when it is the one released."""
    order = _order_in(state, order_id, HAS_RESULT, "release the result of")
    released = order.get("released")  # .get: rows folded before releases existed have none
    if released is not None and released["result"] == order["result"]:
        return []
    return [LabResultReleased(existing(state), order_id, by, now)]


def result_valid_time(state: Visit, order_id: UUID) -> dt.datetime:
    """When the result being amended was reported: the amendment's valid time."""
    order = _order_in(state, order_id, HAS_RESULT, "amend the result of")
    return dt.datetime.fromisoformat(order["reported_at"])


def evolve_lab(state: Visit, event: DomainEvent) -> Visit:
    match event:
        case LabOrdered():
            return dataclasses.replace(state, lab_orders=(*state.lab_orders, _order_view(event)))
        case LabSpecimenCollected():
            return _update(
                state, event.order_id, status="collected", collected_at=iso(event.collected_at)
            )
        case LabResultReported():
            return _update(
                state,
                event.order_id,
                status="reported",
                reported_at=iso(event.reported_at),
                reported_by=event.reported_by,
                result=_result_view(event),
            )
        case LabResultAmended():
            order = _find(state, event.order_id)
            assert order is not None
            amendment = {
                "reason": event.reason,
                "amended_by": event.amended_by,
                "amended_at": iso(event.amended_at),
                "replaced": order["result"],
            }
            return _update(
                state,
                event.order_id,
                status="amended",
                result=_result_view(event),
                # .get: a read-model row folded before amendments existed has none yet
                amendments=[*order.get("amendments", []), amendment],
            )
        case LabResultReleased():
            order = _find(state, event.order_id)
            assert order is not None
            released = {
                "result": order["result"],
                "released_by": event.released_by,
                "released_at": iso(event.released_at),
            }
            return _update(state, event.order_id, released=released)
    return state


def _order_in(
    state: Visit, order_id: UUID, statuses: frozenset[str], action: str
) -> dict[str, Any]:
    existing(state)
    order = _find(state, order_id)
    if order is None:
        raise NotFound(f"lab order {order_id} not found")
    if order["status"] not in statuses:
        hint = "; amend it instead" if order["status"] in HAS_RESULT else ""
        raise Conflict(
            "INVALID_STATUS_TRANSITION",
            f"cannot {action} a lab order that is {order['status']}{hint}",
        )
    return order


def _find(state: Visit, order_id: UUID) -> dict[str, Any] | None:
    return next((o for o in state.lab_orders if o["order_id"] == str(order_id)), None)


def _update(state: Visit, order_id: UUID, **changes: Any) -> Visit:
    orders = tuple(
        {**o, **changes} if o["order_id"] == str(order_id) else o for o in state.lab_orders
    )
    return dataclasses.replace(state, lab_orders=orders)


def _result_view(event: LabResultReported | LabResultAmended) -> dict[str, Any]:
    return {
        "value": event.value,
        "unit": event.unit,
        "reference_range": event.reference_range,
        "abnormal": event.abnormal,
        "comment": event.comment,
    }


def _order_view(event: LabOrdered) -> dict[str, Any]:
    return {
        "order_id": str(event.order_id),
        "test_code": event.test_code,
        "test_name": event.test_name,
        "status": "ordered",
        "ordered_at": iso(event.ordered_at),
        "collected_at": None,
        "reported_at": None,
        "reported_by": None,
        "result": None,
        "amendments": [],
    }
