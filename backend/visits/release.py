"""What a patient sees of their own visits (pure): signed visits only, never a draft note; and
of each lab result only what a clinician released (LabResultReleased), or, when the tenant's
policy sets `results_auto_release_days`, a result that has waited that many days since it was
reported or last amended. An unreleased result shows as `awaiting_review` without its value.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

AWAITING = "awaiting_review"
_STAFF_ONLY = ("result", "amendments", "released", "reported_by")


def patient_view(
    visit: dict[str, Any], auto_release_days: int, now: dt.datetime
) -> dict[str, Any] | None:
    """The visit as its patient may read it; None while it is not signed."""
    if visit["status"] != "signed":
        return None
    orders = [_order_for_patient(o, auto_release_days, now) for o in visit["lab_orders"]]
    return {**visit, "lab_orders": orders}


def _order_for_patient(order: dict[str, Any], days: int, now: dt.datetime) -> dict[str, Any]:
    shown = {k: v for k, v in order.items() if k not in _STAFF_ONLY}
    if order.get("result") is None:
        return {**shown, "result": None}
    due = _last_changed(order) + dt.timedelta(days=days)
    if days and due <= now:
        return {**shown, "result": order["result"], "released_at": due.isoformat()}
    released = order.get("released")
    if released is None:
        return {**shown, "status": AWAITING, "result": None}
    return {**shown, "result": released["result"], "released_at": released["released_at"]}


def _last_changed(order: dict[str, Any]) -> dt.datetime:
    """When the current result was reported, or last amended."""
    amendments = order.get("amendments") or []
    moment = amendments[-1]["amended_at"] if amendments else order["reported_at"]
    return dt.datetime.fromisoformat(moment)
