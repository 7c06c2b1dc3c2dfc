"""docs/plugins.md carries the manifest reference generated from the JSON Schema."""

from __future__ import annotations

from backend.specialties.loading import schema
from backend.specialties.reference import DOC, current_document, render


def test_the_manifest_reference_is_current() -> None:
    assert DOC.read_text() == current_document(), (
        "docs/plugins.md is stale: run python -m backend.specialties.reference"
    )


def test_the_reference_covers_every_section_of_the_spec() -> None:
    text = render(schema())
    for section in schema()["properties"]["spec"]["properties"]:
        assert f"`{section}`" in text
    for nested in ("spec.calculators[]", "spec.validations[].when", "spec.workflows[].steps[]"):
        assert f"### `{nested}`" in text
