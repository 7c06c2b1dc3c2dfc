"""Schemathesis hooks for tests/e2e/test_openapi_fuzz.py (loaded through SCHEMATHESIS_HOOKS)."""

from __future__ import annotations

import schemathesis

FIELD_VALIDATION = "the request is not valid"
"""The detail of a 422 from the declared fields' own validation (backend/api/problems.py)."""


@schemathesis.check
def declared_constraints_only(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """A request the schema allows is never refused by field validation: every constraint the
    fields enforce (patterns, lengths, formats, ranges) is in the schema."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code == 422 and response.json().get("detail") == FIELD_VALIDATION:
        errors = response.json().get("errors")
        raise AssertionError(f"a schema-valid request failed field validation: {errors}")
    return None
