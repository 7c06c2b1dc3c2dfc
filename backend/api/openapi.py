"""The OpenAPI document as the API really behaves: problem+json errors, bearer auth, and the
Idempotency-Key and If-Match headers that commands honour."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from backend.api.problems import PROBLEM

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
    "schema": {"type": "string", "maxLength": 255},
    "description": "A repeat with the same body replays the first response.",
}
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "example": '"3"'},
    "description": "Apply only at this stream version, else 412 VERSION_CONFLICT.",
}


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
    if operation.get("security") == []:
        return  # declared unauthenticated by bearer (a signed webhook): no Idempotency-Key
    operation["security"] = [{"bearer": []}]
    parameters = operation.setdefault("parameters", [])
    if method == "post":
        parameters.append(_IDEMPOTENCY_KEY)
    if method in ("post", "patch", "delete") and "{" in path:
        parameters.append(_IF_MATCH)


def openapi_builder(app: FastAPI) -> Callable[[], dict[str, Any]]:
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
            app.openapi_schema = schema
        return app.openapi_schema

    return build
