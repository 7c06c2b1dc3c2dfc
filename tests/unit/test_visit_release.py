"""What a patient sees of a visit: signed only, results released or past the tenant's delay."""

from __future__ import annotations

import datetime as dt

from visit_states import NOW, ORDER, after, opened, signed

from backend.visits import lab, model
from backend.visits.release import AWAITING, patient_view
from backend.visits.state import Visit

RESULT = lab.LabResult("6.8", "mmol/L", "3.5-5.1", True, None)
DAY = dt.timedelta(days=1)


def _reported() -> Visit:
    state = signed(opened())
    state = after(state, lab.order_lab(state, ORDER, "K", "Potassium", NOW))
    state = after(state, lab.collect_specimen(state, ORDER, NOW))
    return after(state, lab.report_result(state, ORDER, RESULT, "tech", NOW))


def _line(state: Visit, days: int, now: dt.datetime) -> dict[str, object]:
    seen = patient_view(model.view(state), days, now)
    assert seen is not None
    [line] = seen["lab_orders"]
    return dict(line)


def test_an_unsigned_visit_is_not_shown() -> None:
    assert patient_view(model.view(opened()), 0, NOW) is None


def test_a_result_waits_for_a_clinician_unless_the_policy_releases_it_after_days() -> None:
    state = _reported()
    assert _line(state, 0, NOW + 400 * DAY)["status"] == AWAITING  # 0: never by itself
    assert _line(state, 3, NOW + 2 * DAY)["result"] is None
    shown = _line(state, 3, NOW + 3 * DAY)
    assert shown["result"] == model.view(state)["lab_orders"][0]["result"]
    assert shown["released_at"] == (NOW + 3 * DAY).isoformat()


def test_an_amendment_restarts_the_delay_and_hides_behind_the_released_result() -> None:
    state = _reported()
    state = after(state, lab.release_result(state, ORDER, "doc", NOW))
    assert lab.release_result(state, ORDER, "doc", NOW) == []
    fixed = lab.LabResult("4.2", "mmol/L", "3.5-5.1", False, None)
    later = NOW + 2 * DAY
    state = after(state, lab.amend_result(state, ORDER, fixed, "haemolysed", "tech", later))
    assert _line(state, 3, later + 2 * DAY)["result"]["value"] == "6.8"  # type: ignore[index]
    assert _line(state, 3, later + 3 * DAY)["result"]["value"] == "4.2"  # type: ignore[index]
