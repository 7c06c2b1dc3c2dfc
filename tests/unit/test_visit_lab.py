"""Lab orders of a visit: ordered → collected → reported, amended results, units."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import pytest
from visit_states import NOW, ORDER, VISIT_ID, after, opened, signed

from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import revive
from backend.visits import lab
from backend.visits.events import (
    LabOrdered,
    LabResultAmended,
    LabResultReported,
    LabSpecimenCollected,
)
from backend.visits.lab import LabResult
from backend.visits.state import Visit

LATER = NOW + dt.timedelta(hours=2)
POTASSIUM = LabResult("6.8", "mmol/L", None, True, None)


def collected(state: Visit) -> Visit:
    state = after(state, lab.order_lab(state, ORDER, "K", "Potassium", NOW))
    return after(state, lab.collect_specimen(state, ORDER, NOW))


def lab_flow(state: Visit) -> Visit:
    ordered = after(state, lab.order_lab(state, ORDER, "CBC", "Blood count", NOW))
    assert ordered.lab_orders[0]["status"] == "ordered"
    taken = after(ordered, lab.collect_specimen(ordered, ORDER, NOW))
    assert taken.lab_orders[0]["status"] == "collected"
    result = lab.report_result(
        taken, ORDER, LabResult("13.5", "g/dL", "12-16", False, " "), "tech-1", NOW
    )
    assert result == [
        LabResultReported(VISIT_ID, ORDER, "13.5", "g/dL", "12-16", False, None, NOW, "tech-1")
    ]
    return after(taken, result)


def test_lab_order_timeline() -> None:
    [order] = lab_flow(opened()).lab_orders
    assert order == {
        "order_id": str(ORDER),
        "test_code": "CBC",
        "test_name": "Blood count",
        "status": "reported",
        "ordered_at": NOW.isoformat(),
        "collected_at": NOW.isoformat(),
        "reported_at": NOW.isoformat(),
        "reported_by": "tech-1",
        "result": {
            "value": "13.5",
            "unit": "g/dL",
            "reference_range": "12-16",
            "abnormal": False,
            "comment": None,
        },
        "amendments": [],
    }


def test_lab_orders_and_results_continue_after_sign_off() -> None:
    assert lab_flow(signed()).lab_orders[0]["status"] == "reported"


def test_a_specimen_keeps_its_collection_time_but_not_before_the_order() -> None:
    ordered = after(opened(), lab.order_lab(opened(), ORDER, "K", "Potassium", NOW))
    [event] = lab.collect_specimen(ordered, ORDER, LATER)
    assert event == LabSpecimenCollected(VISIT_ID, ORDER, LATER)
    assert after(ordered, [event]).lab_orders[0]["collected_at"] == LATER.isoformat()
    with pytest.raises(Invalid) as e:
        lab.collect_specimen(ordered, ORDER, NOW - dt.timedelta(minutes=1))
    assert e.value.field == "collected_at"


@pytest.mark.parametrize("value", ["6.8", "<0.5", ">= 90", "-2", "1e3", ".5"])
def test_a_numeric_result_needs_its_unit(value: str) -> None:
    without = LabResult(value, " ", None, False, None)
    with pytest.raises(Invalid) as e:
        lab.report_result(collected(opened()), ORDER, without, "tech", NOW)
    assert e.value.field == "unit"
    assert lab.report_result(
        collected(opened()), ORDER, LabResult(value, "1", None, False, None), "tech", NOW
    )


@pytest.mark.parametrize("value", ["positive", "1:80", "not detected", "6.8 mmol/L"])
def test_a_result_in_words_needs_no_unit(value: str) -> None:
    result = LabResult(value, None, None, False, None)
    assert lab.report_result(collected(opened()), ORDER, result, "tech", NOW)


def test_a_result_is_amended_and_the_replaced_one_stays_in_its_history() -> None:
    state = collected(signed())
    state = after(state, lab.report_result(state, ORDER, POTASSIUM, "tech-1", NOW))
    corrected = LabResult("4.1", "mmol/L", "3.5-5.1", False, "haemolysed first sample")
    events = lab.amend_result(state, ORDER, corrected, " haemolysis ", "tech-2", LATER)
    assert events == [
        LabResultAmended(
            VISIT_ID,
            ORDER,
            "4.1",
            "mmol/L",
            "3.5-5.1",
            False,
            "haemolysed first sample",
            "haemolysis",
            "tech-2",
            LATER,
        )
    ]
    assert lab.result_valid_time(state, ORDER) == NOW
    [order] = after(state, events).lab_orders
    assert order["status"] == "amended" and order["reported_at"] == NOW.isoformat()
    assert order["result"]["value"] == "4.1"
    assert order["amendments"] == [
        {
            "reason": "haemolysis",
            "amended_by": "tech-2",
            "amended_at": LATER.isoformat(),
            "replaced": {
                "value": "6.8",
                "unit": "mmol/L",
                "reference_range": None,
                "abnormal": True,
                "comment": None,
            },
        }
    ]


def test_an_amended_result_can_be_amended_again_and_an_unchanged_one_records_nothing() -> None:
    state = collected(opened())
    state = after(state, lab.report_result(state, ORDER, POTASSIUM, "tech", NOW))
    assert lab.amend_result(state, ORDER, POTASSIUM, "same", "tech", LATER) == []
    first = LabResult("4.1", "mmol/L", None, False, None)
    state = after(state, lab.amend_result(state, ORDER, first, "haemolysis", "tech", LATER))
    second = LabResult("4.2", "mmol/L", None, False, None)
    state = after(state, lab.amend_result(state, ORDER, second, "transcription", "tech", LATER))
    [order] = state.lab_orders
    assert [a["replaced"]["value"] for a in order["amendments"]] == ["6.8", "4.1"]
    assert order["result"]["value"] == "4.2"


def test_an_amendment_needs_a_reported_result_a_reason_and_a_unit() -> None:
    state = collected(opened())
    with pytest.raises(Conflict) as e:
        lab.amend_result(state, ORDER, POTASSIUM, "typo", "tech", NOW)
    assert e.value.code == "INVALID_STATUS_TRANSITION"
    state = after(state, lab.report_result(state, ORDER, POTASSIUM, "tech", NOW))
    with pytest.raises(Invalid) as e:
        lab.amend_result(state, ORDER, POTASSIUM, " ", "tech", NOW)
    assert e.value.field == "reason"
    unitless = LabResult("4.1", None, None, False, None)
    with pytest.raises(Invalid) as e:
        lab.amend_result(state, ORDER, unitless, "typo", "tech", NOW)
    assert e.value.field == "unit"


def test_lab_status_transitions_are_enforced() -> None:
    ordered = after(opened(), [LabOrdered(VISIT_ID, ORDER, "CBC", "Blood count", NOW)])
    one = LabResult("1", "g/dL", None, False, None)
    with pytest.raises(Conflict) as e:
        lab.report_result(ordered, ORDER, one, "tech", NOW)
    assert e.value.code == "INVALID_STATUS_TRANSITION"
    taken = after(ordered, [LabSpecimenCollected(VISIT_ID, ORDER, NOW)])
    with pytest.raises(Conflict) as e:
        lab.collect_specimen(taken, ORDER, NOW)
    assert e.value.code == "INVALID_STATUS_TRANSITION"
    reported = after(taken, lab.report_result(taken, ORDER, one, "tech", NOW))
    for command in (
        lambda: lab.collect_specimen(reported, ORDER, NOW),
        lambda: lab.report_result(reported, ORDER, one, "tech", NOW),
    ):
        with pytest.raises(Conflict) as e:
            command()
        assert e.value.code == "INVALID_STATUS_TRANSITION"
    assert "amend it instead" in e.value.detail


def test_unknown_lab_order_is_not_found() -> None:
    one = LabResult("1", "g/dL", None, False, None)
    for command in (
        lambda: lab.collect_specimen(opened(), ORDER, NOW),
        lambda: lab.report_result(opened(), ORDER, one, "tech", NOW),
        lambda: lab.amend_result(opened(), ORDER, one, "typo", "tech", NOW),
    ):
        with pytest.raises(NotFound):
            command()


def test_blank_lab_fields_are_refused() -> None:
    with pytest.raises(Invalid) as e:
        lab.order_lab(opened(), ORDER, " ", "Blood count", NOW)
    assert e.value.field == "test_code"
    with pytest.raises(Invalid) as e:
        lab.report_result(
            collected(opened()), ORDER, LabResult("  ", None, None, False, None), "t", NOW
        )
    assert e.value.field == "value"


class _StoredV1:
    """LabResultReported as stored before v2: no reporter."""

    event_type = "LabResultReported"
    schema_version = 1
    data: ClassVar[dict[str, Any]] = {
        "visit_id": str(VISIT_ID),
        "order_id": str(ORDER),
        "value": "positive",
        "unit": None,
        "reference_range": None,
        "abnormal": True,
        "comment": None,
        "reported_at": NOW.isoformat(),
    }


def test_a_result_stored_before_v2_has_no_reporter() -> None:
    event = revive(_StoredV1())
    assert isinstance(event, LabResultReported)
    assert (event.value, event.reported_by) == ("positive", None)
