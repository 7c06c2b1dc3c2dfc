"""Reading a plugin folder: size limit, YAML without alias bombs, the JSON Schema, then the
checks a schema cannot express (references between sections, safe expressions, functions).

Every problem is a `Problem` naming the file, the path inside the manifest and what is wrong;
a plugin with problems is reported and skipped, never half-loaded.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from backend.plugins.expressions import UnsafeExpression, compile_expression
from backend.plugins.model import (
    CORE_INPUTS,
    Calculator,
    Plugin,
    Rule,
    ValueSpec,
)

MAX_MANIFEST_BYTES = 256 * 1024
MAX_ALIASES = 20
MAX_YAML_DEPTH = 40
SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")
MANIFEST = "manifest.yaml"
FUNCTIONS = "functions.py"


@dataclass(frozen=True)
class Problem:
    file: str
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"file": self.file, "path": self.path, "message": self.message}


class ManifestError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.file} {p.path}: {p.message}" for p in problems))
        self.problems = problems


@functools.cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return loaded


class _BoundedLoader(yaml.SafeLoader):  # type: ignore[misc]
    """SafeLoader that refuses alias bombs (many aliases) and deep nesting while composing,
    before anything is expanded."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _YamlRefused(f"more than {MAX_ALIASES} YAML aliases (an alias bomb?)")
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _YamlRefused(f"YAML nested more than {MAX_YAML_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _YamlRefused(Exception):
    pass


def load_plugin(folder: Path) -> Plugin:
    """The plugin in `folder`, or ManifestError with every problem found."""
    path = folder / MANIFEST
    file = str(path)
    raw = _read(path)
    document = _parse_yaml(file, raw)
    errors = sorted(
        jsonschema.Draft202012Validator(schema()).iter_errors(document),
        key=lambda e: list(map(str, e.absolute_path)),
    )
    if errors:
        raise ManifestError([Problem(file, _json_path(e.absolute_path), e.message) for e in errors])
    return _build(folder, file, document)


def _read(path: Path) -> str:
    file = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            msg = f"{size} bytes, more than the limit of {MAX_MANIFEST_BYTES}"
            raise ManifestError([Problem(file, "$", msg)])
        with path.open("rb") as f:
            data = f.read(MAX_MANIFEST_BYTES + 1)
        if len(data) > MAX_MANIFEST_BYTES:
            raise ManifestError([Problem(file, "$", "larger than the size limit")])
        return data.decode("utf-8")
    except OSError as e:
        raise ManifestError([Problem(file, "$", f"cannot be read: {e.strerror}")]) from None
    except UnicodeDecodeError:
        raise ManifestError([Problem(file, "$", "not UTF-8 text")]) from None


def _parse_yaml(file: str, raw: str) -> Any:
    loader = _BoundedLoader(raw)
    try:
        return loader.get_single_data()
    except _YamlRefused as e:
        raise ManifestError([Problem(file, "$", str(e))]) from None
    except yaml.YAMLError as e:
        raise ManifestError([Problem(file, "$", f"not valid YAML: {e}")]) from None
    finally:
        loader.dispose()


def _json_path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


class _Checker:
    """Collects the problems of one manifest that the schema cannot see."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, path, message))

    def unique(self, path: str, items: list[dict[str, Any]], key: str) -> None:
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item[key] in seen:
                self.fail(f"{path}[{i}].{key}", f"{item[key]!r} is declared twice")
            seen.add(item[key])


def _build(folder: Path, file: str, document: dict[str, Any]) -> Plugin:
    check = _Checker(file)
    meta, spec = document["metadata"], document.get("spec") or {}
    if meta["name"] != folder.name:
        check.fail("$.metadata.name", f"{meta['name']!r} differs from its folder {folder.name!r}")
    fields = spec.get("fields", [])
    event_types = spec.get("event_types", [])
    check.unique("$.spec.fields", fields, "name")
    check.unique("$.spec.event_types", event_types, "id")
    for i, et in enumerate(event_types):
        check.unique(f"$.spec.event_types[{i}].fields", et["fields"], "name")
    for section in ("calculators", "validations", "workflows"):
        check.unique(f"$.spec.{section}", spec.get(section, []), "id")
    for path, item in _value_specs(spec):
        _check_range(check, path, item)
    milestones = {m for p in spec.get("trajectory", {}).get("phases", []) for m in p["milestones"]}
    type_ids = {et["id"] for et in event_types}
    for i, et in enumerate(event_types):
        if "milestone" in et and et["milestone"] not in milestones:
            check.fail(f"$.spec.event_types[{i}].milestone", "not a milestone of the trajectory")
    known_names = {f["name"] for f in fields} | {
        f["name"] for et in event_types for f in et["fields"]
    }
    calculators = _calculators(check, folder, spec.get("calculators", []), known_names)
    rules = _rules(check, spec.get("validations", []), known_names, type_ids)
    _check_ui(check, spec.get("ui", {}), known_names | set(calculators) | CORE_INPUTS, type_ids)
    for i, wf in enumerate(spec.get("workflows", [])):
        if "event" in wf["trigger"] and wf["trigger"]["event"] not in type_ids:
            check.fail(f"$.spec.workflows[{i}].trigger.event", "not an event type of the plugin")
        for j, step in enumerate(wf["steps"]):
            if step["type"] == "checkbox" and "approvers" in step:
                check.fail(f"$.spec.workflows[{i}].steps[{j}]", "a checkbox has no approvers")
    if check.problems:
        raise ManifestError(check.problems)
    return Plugin(
        name=meta["name"],
        version=meta["version"],
        display_name=meta["displayName"],
        manifest=document,
        fields={f["name"]: ValueSpec.of(f) for f in fields},
        field_targets={f["name"]: frozenset(f["applies_to"]) for f in fields},
        event_types={
            et["id"]: {f["name"]: ValueSpec.of(f) for f in et["fields"]} for et in event_types
        },
        event_targets={
            et["id"]: frozenset(et.get("applies_to", ["visit", "admission"])) for et in event_types
        },
        calculators=calculators,
        rules=rules,
    )


def _value_specs(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [(f"$.spec.fields[{i}]", f) for i, f in enumerate(spec.get("fields", []))]
    for i, et in enumerate(spec.get("event_types", [])):
        found += [(f"$.spec.event_types[{i}].fields[{j}]", f) for j, f in enumerate(et["fields"])]
    return found


def _check_range(check: _Checker, path: str, item: dict[str, Any]) -> None:
    numeric = item["type"] in ("integer", "number")
    for key in ("min", "max"):
        if key in item and not numeric:
            check.fail(f"{path}.{key}", f"only integer and number fields take {key}")
    if "values" in item and item["type"] != "enum":
        check.fail(f"{path}.values", "only enum fields take values")
    if "min" in item and "max" in item and item["min"] > item["max"]:
        check.fail(f"{path}.min", "greater than max")


def _calculators(
    check: _Checker, folder: Path, items: list[dict[str, Any]], known: set[str]
) -> dict[str, Calculator]:
    calculators: dict[str, Calculator] = {}
    for i, item in enumerate(items):
        path = f"$.spec.calculators[{i}]"
        inputs = frozenset(item["inputs"])
        for name in sorted(inputs - known - CORE_INPUTS):
            check.fail(f"{path}.inputs", f"{name!r} is neither a field of the plugin nor core")
        compute: Callable[[dict[str, Any]], Any] | None = None
        if "expression" in item:
            try:
                expression = compile_expression(item["expression"], inputs)
            except UnsafeExpression as e:
                check.fail(f"{path}.expression", f"refused: {e}")
                continue
            compute = expression.evaluate
        else:
            compute = _function(check, folder, f"{path}.function", item["function"])
        if compute is not None:
            calculators[item["id"]] = Calculator(
                item["id"], item["version"], inputs, compute, item["output"]["type"]
            )
    return calculators


def _function(
    check: _Checker, folder: Path, path: str, name: str
) -> Callable[[dict[str, Any]], Any] | None:
    """A function of the plugin's own functions.py (trusted code, reviewed like the platform's:
    the manifest may only name a public function defined there)."""
    source = folder / FUNCTIONS
    if not source.is_file():
        check.fail(path, f"{FUNCTIONS} does not exist in the plugin folder")
        return None
    spec = importlib.util.spec_from_file_location(f"caretrail_plugin_{folder.name}", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # any failure of plugin code is a problem of the plugin
        check.fail(path, f"{FUNCTIONS} failed to load: {type(e).__name__}: {e}")
        return None
    function = getattr(module, name, None)
    if not callable(function) or getattr(function, "__module__", None) != module.__name__:
        check.fail(path, f"{name!r} is not a function defined in {FUNCTIONS}")
        return None
    return function  # type: ignore[no-any-return]


def _rules(
    check: _Checker, items: list[dict[str, Any]], known: set[str], type_ids: set[str]
) -> tuple[Rule, ...]:
    rules = []
    for i, item in enumerate(items):
        path = f"$.spec.validations[{i}]"
        on = item["when"]
        if "event" in on and on["event"] not in type_ids:
            check.fail(f"{path}.when.event", "not an event type of the plugin")
        if "field" in on and on["field"] not in known:
            check.fail(f"{path}.when.field", "not a field of the plugin")
        try:
            expression = compile_expression(item["require"], frozenset(known | CORE_INPUTS))
        except UnsafeExpression as e:
            check.fail(f"{path}.require", f"refused: {e}")
            continue
        rules.append(
            Rule(
                item["id"],
                item["severity"],
                on.get("event"),
                on.get("field"),
                expression,
                item["message"],
            )
        )
    return tuple(rules)


def _check_ui(check: _Checker, ui: dict[str, Any], names: set[str], type_ids: set[str]) -> None:
    header = ui.get("patient_header", {})
    for key in ("primary_fields", "secondary_fields"):
        for i, name in enumerate(header.get(key, [])):
            if name not in names and name not in ("mrn", "name", "attending"):
                check.fail(f"$.spec.ui.patient_header.{key}[{i}]", f"{name!r} is not known")
    categories = ui.get("timeline", {}).get("event_categories", [])
    for i, category in enumerate(categories):
        for j, event in enumerate(category["events"]):
            if event not in type_ids:
                check.fail(
                    f"$.spec.ui.timeline.event_categories[{i}].events[{j}]",
                    f"{event!r} is not an event type of the plugin",
                )
