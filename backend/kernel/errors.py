"""Domain error hierarchy. Each error carries the stable machine code the API exposes."""

from __future__ import annotations


class DomainError(Exception):
    """A command was refused by a business rule."""

    code = "DOMAIN_ERROR"
    status = 409

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    code = "NOT_FOUND"
    status = 404


class Conflict(DomainError):
    """A rule about the current state refuses the command (HTTP 409)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class Invalid(DomainError):
    """The command is malformed for the domain (HTTP 422), naming the field at fault."""

    code = "VALIDATION_ERROR"
    status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Forbidden(DomainError):
    code = "FORBIDDEN"
    status = 403
