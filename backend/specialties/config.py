"""The UI configuration of a plugin, as the front end renders it (derived from its manifest)."""

from __future__ import annotations

from typing import Any

from backend.specialties.model import Plugin


def ui_config(plugin: Plugin) -> dict[str, Any]:
    spec = plugin.manifest.get("spec") or {}
    ui = spec.get("ui", {})
    names = {et["id"]: et["name"] for et in spec.get("event_types", [])}
    header = ui.get("patient_header", {})
    categories = [
        {**category, "events": [{"type": e, "name": names[e]} for e in category["events"]]}
        for category in ui.get("timeline", {}).get("event_categories", [])
    ]
    return {
        "name": plugin.name,
        "version": plugin.version,
        "display_name": plugin.display_name,
        "header": {
            "primary_fields": header.get("primary_fields", []),
            "secondary_fields": header.get("secondary_fields", []),
        },
        "timeline": {"event_categories": categories},
        "sidebar_sections": sorted(ui.get("sidebar_sections", []), key=lambda s: s["position"]),
        "fields": spec.get("fields", []),
        "event_types": spec.get("event_types", []),
        "trajectory": spec.get("trajectory"),
        "workflows": [
            {"id": w["id"], "name": w["name"], "steps": w["steps"]}
            for w in spec.get("workflows", [])
        ],
        "calculators": [
            {k: c[k] for k in ("id", "name", "version", "inputs", "output") if k in c}
            for c in spec.get("calculators", [])
        ],
        "reports": spec.get("reports", []),
    }
