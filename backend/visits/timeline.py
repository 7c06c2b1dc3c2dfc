"""A patient's timeline across visits (pure): what was charted about them, in clinical time.

Each visit gives: its opening (reason), every vitals reading (marked when entered in error),
every lab result (the current one, with its amendments), its prescriptions and its note (at the
visit's opening: they carry no time of their own), and its addenda. The caller folds the visits,
at any `as_of`, so a corrected result shows as it was known then.
"""

from __future__ import annotations

from typing import Any


def entries(visit: dict[str, Any]) -> list[dict[str, Any]]:
    """The timeline entries of one visit's state view (model.view)."""
    opened = visit["opened_at"]
    base = {"visit_id": visit["id"]}
    found: list[dict[str, Any]] = [
        {
            **base,
            "at": opened,
            "kind": "visit",
            "reason": visit["reason"],
            "status": visit["status"],
        }
    ]
    found += [{**base, "at": v["taken_at"], "kind": "vitals", **v} for v in visit["vitals"]]
    found += [
        {**base, "at": o["reported_at"], "kind": "lab_result", **o}
        for o in visit["lab_orders"]
        if o.get("result") is not None
    ]
    found += [{**base, "at": opened, "kind": "prescription", **p} for p in visit["prescriptions"]]
    if visit["note"] is not None:
        signed = visit["status"] == "signed"
        note = {"note": visit["note"], "revision": visit["note_revision"], "signed": signed}
        found.append({**base, "at": opened, "kind": "note", **note})
    found += [{**base, "at": a["added_at"], "kind": "addendum", **a} for a in visit["addenda"]]
    return found


def timeline(visits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every visit's entries, by clinical time (then as each visit lists them)."""
    everything = [e for v in visits for e in entries(v)]
    return sorted(everything, key=lambda e: str(e["at"]))
