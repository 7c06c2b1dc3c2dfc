"""Recalls over a patient's history (backend/specialties/recalls.py): when each falls due, from
facts merged in any order."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from backend.specialties import recalls
from backend.specialties.loading import ManifestError, load_plugin
from backend.specialties.recalls import Recall
from backend.specialties.registry import DEFAULT_DIR

DIABETES = {r.id: r for r in load_plugin(DEFAULT_DIR / "diabetes").recalls}
FOOT, RISING = DIABETES["foot_exam_due"], DIABETES["hba1c_rising"]
T0 = dt.datetime(2025, 1, 10, 9, tzinfo=dt.UTC)


def day(n: int) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


def test_a_recall_of_an_event_is_due_at_once_until_the_event_then_a_window_after_it() -> None:
    facts = recalls.noted_since({}, day(0))
    assert recalls.due_at(FOOT, facts) == day(0)
    facts = recalls.noted_event(FOOT, facts, "eye_screening", day(3))
    assert recalls.due_at(FOOT, facts) == day(0), "another event type does not count"
    facts = recalls.noted_event(FOOT, facts, "foot_exam", day(30))
    facts = recalls.noted_event(FOOT, facts, "foot_exam", day(10))
    assert recalls.due_at(FOOT, facts) == day(30 + 365)
    assert recalls.due_at(FOOT, {}) is None, "not the plugin's patient: never due"


def results(*values: tuple[str, int, float | None, int]) -> recalls.Facts:
    facts: recalls.Facts = {}
    for stream, version, value, days in values:
        facts = recalls.noted_values(RISING, facts, stream, version, {"hba1c": value}, day(days))
    return facts


def test_rising_is_due_while_the_last_results_each_rose() -> None:
    facts = results(("v1", 1, 50, 0), ("v2", 1, 55, 90), ("v3", 1, 61, 180))
    assert recalls.due_at(RISING, facts) == day(180)
    assert recalls.due_at(RISING, results(("v1", 1, 50, 0), ("v2", 1, 55, 90))) is None
    flat = results(("v1", 1, 50, 0), ("v2", 1, 55, 90), ("v3", 1, 55, 180))
    assert recalls.due_at(RISING, flat) is None


def test_a_correction_of_a_visits_result_replaces_it_and_a_stale_one_is_ignored() -> None:
    facts = results(("v1", 1, 50, 0), ("v2", 1, 55, 90), ("v3", 1, 61, 180), ("v3", 2, 52, 181))
    assert recalls.due_at(RISING, facts) is None
    stale = recalls.noted_values(RISING, facts, "v3", 1, {"hba1c": 61}, day(180))
    assert stale == facts
    removed = recalls.noted_values(RISING, facts, "v3", 3, {"hba1c": None}, day(182))
    assert recalls.due_at(RISING, removed) is None
    assert recalls.noted_values(RISING, removed, "v3", 2, {"hba1c": 70}, day(181)) == removed, (
        "a removed result remembers its version: an earlier one noted again stays out"
    )
    again = recalls.noted_values(RISING, removed, "v3", 4, {"hba1c": 61}, day(183))
    assert recalls.due_at(RISING, again) == day(183)


def test_a_patient_who_never_had_the_field_has_no_facts() -> None:
    assert recalls.noted_values(RISING, {}, "p", 2, {"hba1c": None}, day(1)) == {}


def test_only_results_within_the_window_of_the_latest_count() -> None:
    facts = results(("v1", 1, 50, 0), ("v2", 1, 55, 800), ("v3", 1, 61, 900))
    assert recalls.due_at(RISING, facts) is None, "v1 is over 730 days before v3"


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_the_facts_do_not_depend_on_the_order_they_arrive_in(order: tuple[int, ...]) -> None:
    steps: list[Any] = [
        lambda f: recalls.noted_since(f, day(5)),
        lambda f: recalls.noted_since(f, day(1)),
        lambda f: recalls.noted_event(FOOT, f, "foot_exam", day(40)),
        lambda f: recalls.noted_event(FOOT, f, "foot_exam", day(20)),
    ]
    facts: recalls.Facts = {}
    for i in order:
        facts = steps[i](facts)
    assert facts == {"since": day(1).isoformat(), "last": day(40).isoformat()}


STREAMS: dict[str, list[tuple[int, float | None, int]]] = {
    "record": [(1, 48, 0), (2, 48, 30), (3, None, 60), (4, 66, 400)],
    "admission": [(1, 47, 1), (2, 47, 500)],
    **{f"visit{i}": [(1, 50 + i, 10 * i), (2, 49 + 2 * i, 10 * i + 5)] for i in range(1, 25)},
}
"""Results of one patient: their record (a value repeated, removed, given again), an
admission (a value repeated long after) and 24 visits, each corrected once: more results
than any bound would keep."""


def _merged(order: list[str], twice: bool) -> recalls.Facts:
    """The streams' results noted stream after stream in `order`, each stream in its own
    order, each event noted twice when `twice` (a redelivery)."""
    facts: recalls.Facts = {}
    for stream in order:
        for version, value, days in STREAMS[stream]:
            for _ in range(2 if twice else 1):
                given = {"hba1c": value}
                facts = recalls.noted_values(RISING, facts, stream, version, given, day(days))
    return facts


@pytest.mark.parametrize("seed", range(20))
def test_results_of_many_streams_merge_in_any_order_and_noted_twice(seed: int) -> None:
    expected = _merged(sorted(STREAMS), twice=False)
    order = sorted(STREAMS)
    random.Random(seed).shuffle(order)
    interleaved = _interleaved(order, random.Random(seed))
    assert _merged(order, twice=seed % 2 == 0) == expected
    assert interleaved == expected
    assert expected["results"]["record"]["at"] == day(400).isoformat()
    assert len(expected["results"]) == len(STREAMS), "no result dropped"


def _interleaved(order: list[str], rng: random.Random) -> recalls.Facts:
    """The streams' events interleaved at random, each stream's in its order (as partitions
    deliver them)."""
    pending = {s: list(STREAMS[s]) for s in order}
    facts: recalls.Facts = {}
    while pending:
        stream = rng.choice(sorted(pending))
        version, value, days = pending[stream].pop(0)
        given = {"hba1c": value}
        facts = recalls.noted_values(RISING, facts, stream, version, given, day(days))
        if not pending[stream]:
            del pending[stream]
    return facts


def test_the_loader_refuses_a_recall_of_nothing_it_knows(tmp_path: Path) -> None:
    folder = tmp_path / "neuro"
    folder.mkdir()
    manifest = {
        "apiVersion": "caretrail.io/v1",
        "kind": "SpecialtyPlugin",
        "metadata": {"name": "neuro", "version": "1.0.0", "displayName": "Neurology"},
        "spec": {
            "fields": [{"name": "side", "type": "string", "applies_to": ["visit"]}],
            "recalls": [
                {"id": "a", "name": "A", "message": "m", "within_days": 30, "no_event": "ct"},
                {
                    "id": "b",
                    "name": "B",
                    "message": "m",
                    "within_days": 30,
                    "rising": "side",
                    "over": 2,
                },
            ],
        },
    }
    (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    with pytest.raises(ManifestError) as refused:
        load_plugin(folder)
    assert [(p.path, p.message) for p in refused.value.problems] == [
        ("$.spec.recalls[0].no_event", "not an event type of the plugin"),
        ("$.spec.recalls[1].rising", "not a number field of the plugin"),
    ]


def test_the_diabetes_recalls() -> None:
    assert {
        "foot_exam_due": Recall(
            "foot_exam_due", "Annual foot examination", FOOT.message, 365, "foot_exam"
        ),
        "eye_screening_due": DIABETES["eye_screening_due"],
        "hba1c_rising": Recall(
            "hba1c_rising", "HbA1c rising", RISING.message, 730, None, "hba1c", 3
        ),
    } == DIABETES


def test_two_records_facts_combined_are_one_persons_in_any_order() -> None:
    """A duplicate merged into the kept record: its foot exam counts, and the HbA1c results of
    both records rise together; combining is order-free and a part combined twice adds
    nothing."""
    kept = recalls.noted_values(
        RISING, recalls.noted_since({}, day(0)), "k", 1, {"hba1c": 50}, day(0)
    )
    duplicate = recalls.noted_event(FOOT, recalls.noted_since({}, day(10)), "foot_exam", day(20))
    for stream, value, at in (("d", 52, day(10)), ("v", 58, day(20))):
        duplicate = recalls.noted_values(RISING, duplicate, stream, 1, {"hba1c": value}, at)
    assert recalls.due_at(RISING, kept) is None
    assert recalls.due_at(RISING, duplicate) is None  # two results: not three rising
    person = recalls.combined(kept, duplicate)
    assert person == recalls.combined(duplicate, kept) == recalls.combined(person, kept)
    assert recalls.due_at(RISING, person) == day(20)
    assert recalls.due_at(FOOT, person) == day(20) + FOOT.window
    assert recalls.due_at(FOOT, recalls.combined(kept)) == day(0)
