"""The manifest reference of docs/plugins.md, generated from manifest.schema.json.

`python -m backend.specialties.reference` rewrites the part of docs/plugins.md between the markers;
tests/unit/test_plugin_reference.py fails when the document and the schema disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from backend.specialties.loading import schema

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
BEGIN = "<!-- BEGIN MANIFEST REFERENCE (generated: python -m backend.specialties.reference) -->"
END = "<!-- END MANIFEST REFERENCE -->"


def render(root: dict[str, Any]) -> str:
    lines: list[str] = []
    _object(root, root, "(manifest)", lines, set())
    return "\n".join(lines).rstrip() + "\n"


def _resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = {
            **root["$defs"][node["$ref"].rsplit("/", 1)[-1]],
            **{k: v for k, v in node.items() if k != "$ref"},
        }
    merged = dict(node)
    for part in node.get("allOf", []):
        part = _resolve(root, part)
        merged["properties"] = {**part.get("properties", {}), **merged.get("properties", {})}
        merged["required"] = [*part.get("required", []), *merged.get("required", [])]
        merged.setdefault("type", part.get("type"))
    return merged


def _object(
    root: dict[str, Any], node: dict[str, Any], path: str, lines: list[str], seen: set[str]
) -> None:
    node = _resolve(root, node)
    properties = node.get("properties", {})
    if not properties or path in seen:
        return
    seen.add(path)
    required = set(node.get("required", []))
    lines += [f"### `{path}`", ""]
    if node.get("description") and path == "(manifest)":
        lines += [node["description"], ""]
    lines += ["| key | type | required | description |", "|---|---|---|---|"]
    nested: list[tuple[str, dict[str, Any]]] = []
    for key, prop in properties.items():
        described = _resolve(root, prop)
        lines.append(
            f"| `{key}` | {_type(root, described)} | {'yes' if key in required else ''} "
            f"| {_describe(described)} |"
        )
        child = f"{key}" if path == "(manifest)" else f"{path}.{key}"
        if described.get("type") == "array" and "items" in described:
            nested.append((f"{child}[]", described["items"]))
        elif described.get("properties"):
            nested.append((child, described))
    lines.append("")
    for child, node_ in nested:
        _object(root, node_, child, lines, seen)


def _type(root: dict[str, Any], node: dict[str, Any]) -> str:
    if "const" in node:
        return f"`{node['const']}`"
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type", "object")
    if kind == "array":
        items = _resolve(root, node.get("items", {}))
        return f"list of {_type(root, items)}"
    return str(kind)


def _describe(node: dict[str, Any]) -> str:
    parts = [node.get("description", "")]
    if "pattern" in node:
        parts.append(f"pattern `{node['pattern']}`")
    for key in ("minimum", "maximum", "maxLength", "maxItems"):
        if key in node:
            parts.append(f"{key} {node[key]}")
    if "default" in node:
        parts.append(f"default `{node['default']}`")
    return "; ".join(p for p in parts if p).replace("|", "\\|").replace("\n", " ")


def current_document() -> str:
    """docs/plugins.md with its reference section regenerated from the schema."""
    text = DOC.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n\n{render(schema())}\n{END}{tail}"


def main() -> None:
    DOC.write_text(current_document())
    sys.stdout.write(f"wrote {DOC}\n")


if __name__ == "__main__":
    main()
