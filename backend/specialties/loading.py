"""Reading a plugin folder: size limit, YAML without alias bombs, the JSON Schema, then the
checks a schema cannot express (references between sections, safe expressions, functions).

Every problem is a `Problem` naming the file, the path inside the manifest and what is wrong;
a plugin with problems is reported and skipped, never half-loaded.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from backend.specialties.calculators import functions_missing
from backend.specialties.expressions import Expression, UnsafeExpression, compile_expression
from backend.specialties.model import (
    CORE_INPUTS,
    Calculator,
    Plugin,
    PluginFunction,
    Rule,
    ValueSpec,
)
from backend.specialties.ordering import OrderProblem, calculation_order
from backend.specialties.recalls import Recall

MAX_MANIFEST_BYTES = 256 * 1024
MAX_ALIASES = 20
MAX_YAML_DEPTH = 40
SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")
MANIFEST = "manifest.yaml"
FUNCTIONS = "functions.py"
HEADER_BUILT_INS = frozenset({"name", "birth_date", "age_years", "sex"})
"""What the patient header may show of the patient itself (besides the plugin's fields and
calculators): their name, birth date, age in whole years and sex."""


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
    value_specs = {path: _value_spec(check, path, item) for path, item in _value_specs(spec)}
    milestones = {m for p in spec.get("trajectory", {}).get("phases", []) for m in p["milestones"]}
    type_ids = {et["id"] for et in event_types}
    for i, et in enumerate(event_types):
        if "milestone" in et and et["milestone"] not in milestones:
            check.fail(f"$.spec.event_types[{i}].milestone", "not a milestone of the trajectory")
    known_names = {f["name"] for f in fields} | {
        f["name"] for et in event_types for f in et["fields"]
    }
    calculators = _calculators(check, folder, spec.get("calculators", []), known_names)
    rules = _rules(check, spec.get("validations", []), known_names | set(calculators), type_ids)
    _check_ui(check, spec.get("ui", {}), known_names | set(calculators) | CORE_INPUTS, type_ids)
    recalls = _recalls(check, spec.get("recalls", []), fields, type_ids)
    for i, report in enumerate(spec.get("reports", [])):
        for j, name in enumerate(report["fields"]):
            if name not in known_names | set(calculators):
                what = "neither a field, an event type's field nor a calculator of the plugin"
                check.fail(f"$.spec.reports[{i}].fields[{j}]", f"{name!r} is {what}")
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
        fields={f["name"]: value_specs[f"$.spec.fields[{i}]"] for i, f in enumerate(fields)},
        field_targets={f["name"]: frozenset(f["applies_to"]) for f in fields},
        event_types={
            et["id"]: {
                f["name"]: value_specs[f"$.spec.event_types[{i}].fields[{j}]"]
                for j, f in enumerate(et["fields"])
            }
            for i, et in enumerate(event_types)
        },
        event_targets={
            et["id"]: frozenset(et.get("applies_to", ["visit", "admission"])) for et in event_types
        },
        calculators=calculators,
        rules=rules,
        recalls=recalls,
    )


def _value_specs(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [(f"$.spec.fields[{i}]", f) for i, f in enumerate(spec.get("fields", []))]
    for i, et in enumerate(spec.get("event_types", [])):
        found += [(f"$.spec.event_types[{i}].fields[{j}]", f) for j, f in enumerate(et["fields"])]
    return found


def _value_spec(check: _Checker, path: str, item: dict[str, Any]) -> ValueSpec:
    _check_range(check, path, item)
    conversions: dict[str, Expression] = {}
    if "units" in item and (item["type"] not in ("integer", "number") or "unit" not in item):
        check.fail(f"{path}.units", "only integer and number fields with a unit take units")
    for i, other in enumerate(item.get("units", [])):
        if other["unit"] == item.get("unit") or other["unit"] in conversions:
            check.fail(f"{path}.units[{i}].unit", f"{other['unit']!r} is declared twice")
            continue
        try:
            conversions[other["unit"]] = compile_expression(other["convert"], frozenset({"value"}))
        except UnsafeExpression as e:
            check.fail(f"{path}.units[{i}].convert", f"refused: {e}")
    return dataclasses.replace(ValueSpec.of(item), conversions=conversions)


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
    """The plugin's calculators in the order they run (see backend/specialties/ordering.py); an
    input may name another calculator, whose result it then takes."""
    calculators: dict[str, Calculator] = {}
    functions: dict[str, str] = {}  # calculator id -> function name
    ids = {item["id"] for item in items}
    for i, item in enumerate(items):
        path = f"$.spec.calculators[{i}]"
        inputs = frozenset(item["inputs"])
        if item["id"] in known | CORE_INPUTS:
            check.fail(f"{path}.id", f"{item['id']!r} is also the name of a field")
        for name in sorted(inputs - known - CORE_INPUTS - (ids - {item["id"]})):
            why = "neither a field nor a calculator of the plugin nor core"
            check.fail(f"{path}.inputs", f"{name!r} is {why}")
        calculator = Calculator(item["id"], item["version"], inputs, item["output"]["type"])
        if "expression" in item:
            try:
                expression = compile_expression(item["expression"], inputs)
            except UnsafeExpression as e:
                check.fail(f"{path}.expression", f"refused: {e}")
                continue
            calculators[item["id"]] = dataclasses.replace(calculator, expression=expression)
        else:
            functions[item["id"]] = item["function"]
            calculators[item["id"]] = calculator
    if functions:
        paths = {item["id"]: f"$.spec.calculators[{i}].function" for i, item in enumerate(items)}
        found = _functions(check, folder, paths, functions)
        for calc_id, function in found.items():
            calculators[calc_id] = dataclasses.replace(calculators[calc_id], function=function)
    index = {item["id"]: i for i, item in enumerate(items)}
    try:
        order = calculation_order({c.id: c.inputs for c in calculators.values()})
    except OrderProblem as e:
        check.fail(f"$.spec.calculators[{index[e.calculator]}].inputs", e.message)
        return calculators
    return {calc_id: calculators[calc_id] for calc_id in order}


def _functions(
    check: _Checker, folder: Path, paths: dict[str, str], names: dict[str, str]
) -> dict[str, PluginFunction]:
    """The functions of the plugin's functions.py the calculators name (by calculator id).
    The file is trusted code, reviewed like the platform's, yet it never runs in the API
    process: it is tried in a calculator worker, and the manifest may only name a public
    function defined there."""
    source_path = folder / FUNCTIONS
    first = paths[next(iter(names))]
    if not source_path.is_file():
        check.fail(first, f"{FUNCTIONS} does not exist in the plugin folder")
        return {}
    try:
        source = source_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        check.fail(first, f"{FUNCTIONS} cannot be read: {e}")
        return {}
    module = f"caretrail_plugin_{folder.name}"
    missing = functions_missing(module, source, sorted(set(names.values())))
    if isinstance(missing, str):
        check.fail(first, f"{FUNCTIONS} failed to load: {missing}")
        return {}
    found = {}
    for calc_id, name in names.items():
        if name in missing:
            check.fail(paths[calc_id], f"{name!r} is not a function defined in {FUNCTIONS}")
        else:
            found[calc_id] = PluginFunction(module, name, source)
    return found


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
            check.fail(f"{path}.when.field", "not a field or calculator of the plugin")
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


def _recalls(
    check: _Checker, items: list[dict[str, Any]], fields: list[dict[str, Any]], type_ids: set[str]
) -> tuple[Recall, ...]:
    check.unique("$.spec.recalls", items, "id")
    numbers = {f["name"] for f in fields if f["type"] in ("integer", "number")}
    for i, item in enumerate(items):
        if "no_event" in item and item["no_event"] not in type_ids:
            check.fail(f"$.spec.recalls[{i}].no_event", "not an event type of the plugin")
        if "rising" in item and item["rising"] not in numbers:
            check.fail(f"$.spec.recalls[{i}].rising", "not a number field of the plugin")
    return tuple(
        Recall(
            item["id"],
            item["name"],
            item["message"],
            item["within_days"],
            item.get("no_event"),
            item.get("rising"),
            item.get("over", 0),
        )
        for item in items
    )


def _check_ui(check: _Checker, ui: dict[str, Any], names: set[str], type_ids: set[str]) -> None:
    header = ui.get("patient_header", {})
    for key in ("primary_fields", "secondary_fields"):
        for i, name in enumerate(header.get(key, [])):
            if name not in names and name not in HEADER_BUILT_INS:
                why = "neither a field nor a calculator of the plugin nor a built-in name"
                check.fail(f"$.spec.ui.patient_header.{key}[{i}]", f"{name!r} is {why}")
    categories = ui.get("timeline", {}).get("event_categories", [])
    for i, category in enumerate(categories):
        for j, event in enumerate(category["events"]):
            if event not in type_ids:
                check.fail(
                    f"$.spec.ui.timeline.event_categories[{i}].events[{j}]",
                    f"{event!r} is not an event type of the plugin",
                )
