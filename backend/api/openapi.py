"""The OpenAPI document as the API really behaves: problem+json errors, bearer auth, and the
Idempotency-Key and If-Match headers that commands honour."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from backend.api.commands import KEY_PATTERN
from backend.api.deps import IF_MATCH
from backend.api.problems import PROBLEM
from backend.api.versioning import old_schemas
from backend.api.versions import TOKEN_DEFAULT, VersionChange

_PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "stable machine code"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_PATTERN},
    "description": "The caller's key for this request: a repeat with the same body replays the"
    " first successful response (Idempotent-Replayed: true) for 24 h; another body is 422"
    " IDEMPOTENCY_KEY_REUSED; while the first runs, 409 IDEMPOTENCY_KEY_IN_USE; a refusal"
    " stores nothing; about a patient erased since, 410 PATIENT_ERASED.",
}
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": IF_MATCH, "example": '"3"'},
    "description": "Apply only at this stream version, else 412 VERSION_CONFLICT (malformed:"
    " 422 naming If-Match).",
}


NOT_A_COMMAND = "x-not-a-command"
"""openapi_extra of a write route that runs no command (no Idempotency-Key, no If-Match)."""


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _describe(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    if "422" in responses:
        responses["422"] = _problem("Validation error; `errors` names the fields")
    if not path.startswith("/v1"):
        return
    responses["default"] = _problem("Error (RFC 9457 problem+json with a stable `code`)")
    if "requestBody" in operation:
        responses["413"] = _problem("The body is over this route's limit (before it is read)")
    if operation.get("security") == []:
        return  # declared unauthenticated by bearer (a signed webhook): no Idempotency-Key
    operation["security"] = [{"bearer": []}]
    parameters = operation.setdefault("parameters", [])
    if method in ("post", "put", "patch", "delete") and not operation.pop(NOT_A_COMMAND, False):
        parameters += [_IDEMPOTENCY_KEY, _IF_MATCH]


def openapi_builder(
    app: FastAPI, changes: tuple[VersionChange, ...]
) -> Callable[[], dict[str, Any]]:
    """The document describes versions.TOKEN_DEFAULT, the version a token speaks without the
    Caretrail-Version header (the newer versions' changes: docs/partners.md)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {})
            schemas = components.setdefault("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            schemas["Problem"] = _PROBLEM_SCHEMA
            components["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            }
            for path, operations in schema["paths"].items():
                for method, operation in operations.items():
                    _describe(path, method, operation)
            old_schemas(schema, changes)
            schema["info"]["x-caretrail-version"] = TOKEN_DEFAULT
            app.openapi_schema = schema
        return app.openapi_schema

    return build
