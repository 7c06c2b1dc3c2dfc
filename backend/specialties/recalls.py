"""Recalls: a plugin's rules over a patient's history across visits, within a window (pure).

"No foot exam in 12 months" (`no_event: foot_exam, within_days: 365`) and "HbA1c rising over
the last three results" (`rising: hba1c, over: 3, within_days: 730`) cannot be checked when one
command runs: they depend on every visit of the patient, and on time passing. They feed the
worklist read model (backend/specialties/worklist.py) instead, which keeps per patient and
recall the facts below and the time the recall falls due.

Facts are merged so that the order they arrive in does not matter (a Kafka partition per
stream delivers one stream's events in order, streams in any order) and an event noted twice
changes nothing: the first time the patient had a value of the plugin is a minimum, the last
event of a type a maximum, and results are kept one per stream, each folded from its own
stream's events alone (its latest by stream version). No result is ever dropped to bound them
(there is one per visit, admission or record that gave the field): a result dropped could come
back, under a later version of its stream, differently in one order than in another.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Recall:
    id: str
    name: str
    message: str
    within_days: int
    no_event: str | None = None
    rising: str | None = None
    over: int = 0

    @property
    def window(self) -> dt.timedelta:
        return dt.timedelta(days=self.within_days)


Facts = dict[str, Any]
"""What a recall knows of one patient, JSON-native: `since` (the first time they had a value of
the plugin), `last` (no_event: its latest occurrence) and `results` (rising: per stream id,
{"at", "value", "version"}; value and at None once the stream's value was removed, so that an
earlier version of it noted again is still seen as older)."""


def noted_since(facts: Facts, at: dt.datetime) -> Facts:
    """The patient had a value of the plugin at `at`."""
    since = facts.get("since")
    earliest = at if since is None else min(at, dt.datetime.fromisoformat(since))
    return {**facts, "since": earliest.isoformat()}


def noted_event(recall: Recall, facts: Facts, event_type: str, at: dt.datetime) -> Facts:
    if event_type != recall.no_event:
        return facts
    last = facts.get("last")
    latest = at if last is None else max(at, dt.datetime.fromisoformat(last))
    return {**facts, "last": latest.isoformat()}


def noted_values(
    recall: Recall,
    facts: Facts,
    stream: str,
    version: int,
    values: dict[str, Any],
    at: dt.datetime,
) -> Facts:
    """A write of the stream (version `version`) gave these values (a value None removes the
    stream's result, keeping its version). A result keeps the time it was first given while
    its value stays (a patient's record repeats all its values when any of them changes)."""
    if recall.rising is None or recall.rising not in values:
        return facts
    results = dict(facts.get("results", {}))
    held = results.get(stream)
    if held is not None and held["version"] >= version:
        return facts  # older than what the stream's result already reflects
    value = values[recall.rising]
    if value is None:
        if held is None:
            return facts  # nothing to remove: no row for a patient who never had the field
        results[stream] = {"at": None, "value": None, "version": version}  # keeps the version
    else:
        kept_at = held["at"] if held is not None and held["value"] == value else at.isoformat()
        results[stream] = {"at": kept_at, "value": value, "version": version}
    return {**facts, "results": results}


def due_at(recall: Recall, facts: Facts) -> dt.datetime | None:
    """When the recall falls due for the patient (None: it does not, as things stand)."""
    if recall.no_event is not None:
        last = facts.get("last")
        if last is not None:
            return dt.datetime.fromisoformat(last) + recall.window
        since = facts.get("since")
        return None if since is None else dt.datetime.fromisoformat(since)
    series = sorted(
        (dt.datetime.fromisoformat(r["at"]), r["value"])
        for r in facts.get("results", {}).values()
        if r["value"] is not None
    )
    if not series:
        return None
    newest = series[-1][0]
    recent = [value for at, value in series if newest - at <= recall.window][-recall.over :]
    rising = len(recent) == recall.over and all(a < b for a, b in itertools.pairwise(recent))
    return newest if rising else None


def combined(*parts: Facts) -> Facts:
    """The facts of one person kept under several records (a duplicate merged into the patient
    kept): the earliest `since`, the latest `last`, and every record's results (a stream
    belongs to one record, so none is in two parts; the later version wins if one were).
    Order-free, like the merge of facts itself."""
    since = [dt.datetime.fromisoformat(p["since"]) for p in parts if p.get("since")]
    last = [dt.datetime.fromisoformat(p["last"]) for p in parts if p.get("last")]
    results: dict[str, Any] = {}
    for part in parts:
        for stream, result in part.get("results", {}).items():
            held = results.get(stream)
            if held is None or held["version"] < result["version"]:
                results[stream] = result
    facts: Facts = {}
    if since:
        facts["since"] = min(since).isoformat()
    if last:
        facts["last"] = max(last).isoformat()
    if results:
        facts["results"] = results
    return facts
