"""Loading plugin manifests: the schema, the checks beyond it, and hostile manifests (refused
at load with a clear problem, never crashing the registry or expanding a bomb)."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from backend.settings import Settings
from backend.specialties import calculators
from backend.specialties.loading import MAX_MANIFEST_BYTES, ManifestError, load_plugin
from backend.specialties.registry import DEFAULT_DIR, PluginRegistry

MINIMAL: dict[str, Any] = {
    "apiVersion": "caretrail.io/v1",
    "kind": "SpecialtyPlugin",
    "metadata": {"name": "neuro", "version": "1.0.0", "displayName": "Neurology"},
    "spec": {
        "fields": [
            {"name": "gcs", "type": "integer", "min": 3, "max": 15, "applies_to": ["admission"]}
        ],
        "event_types": [
            {
                "id": "ct_head",
                "name": "CT head",
                "category": "imaging",
                "fields": [{"name": "bleed", "type": "boolean", "required": True}],
            }
        ],
        "calculators": [
            {
                "id": "gcs_band",
                "name": "GCS band",
                "version": "1",
                "inputs": ["gcs"],
                "expression": "3 if gcs <= 8 else (2 if gcs <= 12 else 1)",
                "output": {"type": "integer"},
            }
        ],
    },
}


def write(root: Path, manifest: dict[str, Any] | str, name: str = "neuro") -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    text = manifest if isinstance(manifest, str) else yaml.safe_dump(manifest, sort_keys=False)
    (folder / "manifest.yaml").write_text(text)
    return folder


def problems(folder: Path) -> list[tuple[str, str]]:
    with pytest.raises(ManifestError) as refused:
        load_plugin(folder)
    for p in refused.value.problems:
        assert p.file == str(folder / "manifest.yaml")
    return [(p.path, p.message) for p in refused.value.problems]


def with_calculator(expression: str) -> dict[str, Any]:
    manifest = copy.deepcopy(MINIMAL)
    manifest["spec"]["calculators"][0]["expression"] = expression
    return manifest


def test_the_shipped_plugins_load() -> None:
    catalog = PluginRegistry(DEFAULT_DIR).reload()
    assert set(catalog.plugins) >= {"cardiac", "orthopedics"}
    assert not catalog.problems
    cardiac = catalog.plugins["cardiac"]
    assert cardiac.fields["ejection_fraction"].min == 5
    assert cardiac.fields["nyha_class"].values == ("I", "II", "III", "IV")
    assert set(cardiac.event_types) == {"catheterization", "cabg", "valve_replacement"}


def test_a_minimal_manifest_loads(tmp_path: Path) -> None:
    plugin = load_plugin(write(tmp_path, MINIMAL))
    assert (plugin.name, plugin.version) == ("neuro", "1.0.0")
    expression = plugin.calculators["gcs_band"].expression
    assert expression is not None and expression.evaluate({"gcs": 7}) == 3


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (lambda m: m.pop("kind"), "$", "'kind' is a required property"),
        (lambda m: m["metadata"].update(version="1.0"), "$.metadata.version", "does not match"),
        (lambda m: m["spec"].update(colour="red"), "$.spec", "Additional properties"),
        (
            lambda m: m["spec"]["fields"][0].update(type="complex"),
            "$.spec.fields[0].type",
            "is not one of",
        ),
        (lambda m: m["metadata"].update(name="other"), "$.metadata.name", "differs from"),
        (
            lambda m: m["spec"]["fields"][0].update(min=20),
            "$.spec.fields[0].min",
            "greater than max",
        ),
        (
            lambda m: m["spec"]["calculators"][0].update(inputs=["pupils"]),
            "$.spec.calculators[0].inputs",
            "'pupils' is neither",
        ),
    ],
)
def test_an_invalid_manifest_names_file_path_and_problem(
    tmp_path: Path, change: Any, path: str, message: str
) -> None:
    manifest = copy.deepcopy(MINIMAL)
    change(manifest)
    found = problems(write(tmp_path, manifest))
    assert any(p == path and message in m for p, m in found), found


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("__import__('os').system('id')", "only whitelisted functions"),
        ("__import__('os')", "call to '__import__' is not allowed"),
        ("open('/etc/passwd')", "call to 'open' is not allowed"),
        ("gcs.__class__", "attribute access"),
        ("(lambda f: f(f))(lambda f: f(f))", "only whitelisted functions"),
        ("[x for x in range(10**9)]", "loops"),
        ("sum(x for x in range(10**8))", "not allowed"),
        ("99999999999999999999 * gcs", "out of range"),
        ("exec('1')", "not allowed"),
        ("gcs if gcs else", "not an expression"),
        ("-(" * 100 + "gcs" + ")" * 100, "nested"),
        ("(" * 400 + "gcs" + ")" * 400, "too many nested parentheses"),
    ],
)
def test_hostile_expressions_are_refused_at_load(tmp_path: Path, expression: str, why: str) -> None:
    found = problems(write(tmp_path, with_calculator(expression)))
    assert len(found) == 1 and found[0][0] == "$.spec.calculators[0].expression", found
    assert found[0][1].startswith("refused:") and why in found[0][1], found


def with_calculators(*calculators: tuple[str, list[str]]) -> dict[str, Any]:
    """MINIMAL with calculators (id, inputs), each adding 1 to its inputs."""
    manifest = copy.deepcopy(MINIMAL)
    manifest["spec"]["calculators"] = [
        {
            "id": calc_id,
            "name": calc_id,
            "version": "1",
            "inputs": inputs,
            "expression": " + ".join([*inputs, "1"]),
            "output": {"type": "integer"},
        }
        for calc_id, inputs in calculators
    ]
    return manifest


def test_a_calculator_may_take_another_ones_result_and_runs_after_it(tmp_path: Path) -> None:
    manifest = with_calculators(("band", ["score"]), ("score", ["gcs"]))
    manifest["spec"]["validations"] = [
        {
            "id": "low_band",
            "severity": "warning",
            "when": {"field": "band"},
            "require": "band > 5",
            "message": "Low",
        }
    ]
    plugin = load_plugin(write(tmp_path, manifest))
    assert list(plugin.calculators) == ["score", "band"]
    assert plugin.rules[0].on_field == "band"


@pytest.mark.parametrize(
    ("calculators", "path", "message"),
    [
        (
            (("a", ["b"]), ("b", ["c"]), ("c", ["a", "gcs"])),
            "$.spec.calculators[0].inputs",
            "its inputs go round in a cycle: a -> b -> c -> a",
        ),
        ((("a", ["a"]),), "$.spec.calculators[0].inputs", "'a' is neither a field"),
        (
            (("a", ["b"]), ("b", ["c"]), ("c", ["d"]), ("d", ["e"]), ("e", ["gcs"])),
            "$.spec.calculators[0].inputs",
            "takes results of calculators 5 deep, at most 4 are allowed",
        ),
        ((("gcs", ["bleed"]),), "$.spec.calculators[0].id", "'gcs' is also the name of a field"),
    ],
)
def test_calculator_cycles_deep_chains_and_clashes_are_refused(
    tmp_path: Path, calculators: tuple[tuple[str, list[str]], ...], path: str, message: str
) -> None:
    found = problems(write(tmp_path, with_calculators(*calculators)))
    assert any(p == path and message in m for p, m in found), found


def test_a_yaml_bomb_is_refused_quickly_without_expanding(tmp_path: Path) -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        levels.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    bomb = "\n".join(levels) + "\napiVersion: caretrail.io/v1\n"
    started = time.monotonic()
    found = problems(write(tmp_path, bomb))
    assert time.monotonic() - started < 1
    assert found == [("$", "more than 20 YAML aliases (an alias bomb?)")]


def test_an_oversized_or_malformed_manifest_is_refused(tmp_path: Path) -> None:
    big = "# padding\n" * (MAX_MANIFEST_BYTES // 10 + 1)
    found = problems(write(tmp_path, big))
    assert "more than the limit" in found[0][1]
    found = problems(write(tmp_path, "apiVersion: [unclosed"))
    assert found[0][1].startswith("not valid YAML")
    found = problems(write(tmp_path, "!!python/object/apply:os.system ['id']"))
    assert found[0][1].startswith("not valid YAML"), "safe_load only"


def test_a_missing_or_broken_function_is_a_problem(tmp_path: Path) -> None:
    manifest = copy.deepcopy(MINIMAL)
    calculator = manifest["spec"]["calculators"][0]
    del calculator["expression"]
    calculator["function"] = "band"
    folder = write(tmp_path, manifest)
    assert "functions.py does not exist" in problems(folder)[0][1]
    (folder / "functions.py").write_text("import os\nband = os.system\n")
    assert "is not a function defined in functions.py" in problems(folder)[0][1]
    (folder / "functions.py").write_text("raise RuntimeError('boom')\n")
    assert "failed to load: RuntimeError: boom" in problems(folder)[0][1]
    (folder / "functions.py").write_text("def band(inputs):\n    return 1\n")
    function = load_plugin(folder).calculators["gcs_band"].function
    assert function is not None and function.name == "band" and "return 1" in function.source


def test_functions_py_is_tried_in_a_worker_not_in_the_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading never runs plugin code in the API process: a module that loops forever at
    import is stopped after the check's time limit, one that exits ends its worker only."""
    manifest = copy.deepcopy(MINIMAL)
    calculator = manifest["spec"]["calculators"][0]
    del calculator["expression"]
    calculator["function"] = "band"
    folder = write(tmp_path, manifest)
    monkeypatch.setattr(calculators, "CHECK_TIMEOUT", 0.5)
    (folder / "functions.py").write_text("while True:\n    pass\n")
    started = time.monotonic()
    assert problems(folder)[0][1] == "functions.py failed to load: took longer than 0.5 s to load"
    assert time.monotonic() - started < 5
    (folder / "functions.py").write_text("import os\nos._exit(3)\n")
    assert problems(folder)[0][1] == "functions.py failed to load: its worker ended (exit code 3)"


def test_the_registry_skips_a_broken_plugin_and_reload_picks_up_the_fix(tmp_path: Path) -> None:
    write(tmp_path, with_calculator("open('x')"))
    write(tmp_path, {**MINIMAL, "metadata": {**MINIMAL["metadata"], "name": "ok"}}, "ok")
    registry = PluginRegistry(tmp_path)
    catalog = registry.reload()
    assert set(catalog.plugins) == {"ok"}
    [row] = [r for r in catalog.status() if r["name"] == "neuro"]
    assert row["status"] == "invalid" and row["problems"][0]["path"].endswith("expression")
    write(tmp_path, MINIMAL)
    assert set(registry.reload().plugins) == {"neuro", "ok"}


def test_the_plugins_directory_is_a_setting() -> None:
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "plugins"
    settings = Settings(
        CARETRAIL_ENV="test", CARETRAIL_JWT_SECRET="s", CARETRAIL_PLUGINS_DIR=str(fixtures)
    )
    assert settings.plugins_dir == str(fixtures)
    assert set(PluginRegistry(Path(settings.plugins_dir)).reload().plugins) == {"dermatology"}


def test_the_header_takes_built_in_names_and_reports_take_known_names(tmp_path: Path) -> None:
    manifest = copy.deepcopy(MINIMAL)
    manifest["spec"]["ui"] = {
        "patient_header": {
            "primary_fields": ["name", "birth_date", "age_years", "sex", "gcs"],
            "secondary_fields": ["gcs_band", "mrn"],
        }
    }
    manifest["spec"]["reports"] = [
        {"id": "audit", "name": "Audit", "type": "list", "fields": ["gcs", "bleed", "gsc"]}
    ]
    assert problems(write(tmp_path, manifest)) == [
        (
            "$.spec.ui.patient_header.secondary_fields[1]",
            "'mrn' is neither a field nor a calculator of the plugin nor a built-in name",
        ),
        (
            "$.spec.reports[0].fields[2]",
            "'gsc' is neither a field, an event type's field nor a calculator of the plugin",
        ),
    ]
