"""The operations files are checked like code: the compose file against the Compose
Specification's published JSON Schema (the copy check-jsonschema vendors: no network, no
Docker), every service in it with a health check. Kubernetes manifests, if any are added under
infrastructure/, must come with a schema check of their own here."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

INFRASTRUCTURE = Path(__file__).parents[2] / "infrastructure"
COMPOSE = INFRASTRUCTURE / "compose.yaml"


def _compose_schema() -> dict[str, Any]:
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema: dict[str, Any] = json.loads(vendored.read_text())
    return schema


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def test_the_compose_file_follows_the_compose_specification() -> None:
    schema = _compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(_compose())
    ]
    assert not errors, errors


def test_the_schema_check_finds_mistakes() -> None:
    schema = _compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    misspelt = _compose()
    misspelt["services"]["relay"]["helthcheck"] = misspelt["services"]["relay"]["healthcheck"]
    unknown = _compose()
    unknown["services"]["relay"]["depends_on"]["api"]["condition"] = "service_ready"
    for broken in (misspelt, unknown):
        assert list(validator.iter_errors(broken))


def test_every_service_has_a_health_check() -> None:
    services = _compose()["services"]
    unchecked = [
        name
        for name, service in services.items()
        if not service.get("healthcheck", {}).get("test") or service["healthcheck"].get("disable")
    ]
    assert not unchecked, unchecked


def test_no_manifest_goes_unchecked() -> None:
    manifests = [
        p for p in INFRASTRUCTURE.rglob("*.y*ml") if p != COMPOSE and "apiVersion" in p.read_text()
    ]
    assert not manifests, f"{manifests}: validate them against their schema in this file"
