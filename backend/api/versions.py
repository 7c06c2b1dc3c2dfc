"""The dated versions of the API, oldest first, and which one a request speaks.

A person's token speaks TOKEN_DEFAULT, the version shared/design/API.md (the stable contract)
shows, so the web app and staff integrations keep their shapes until they ask for another; a
partner's key is pinned to the version it names when it is made (its `api_version`), by default
the same one: the contract shows partners the same shapes as staff (given_name, family_name), so
the newer version is theirs to opt into. Either way a
`Caretrail-Version` header overrides it for the request; a version not in VERSIONS is refused
(400 UNKNOWN_API_VERSION). Every response names the version it speaks in the same header.

Handlers speak CURRENT only: what an older version differs in is undone at the edge by the
VersionChanges the contexts declare (backend/api/versioning.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.auth.principal import Principal

VERSIONS = ("2026-11-01", "2026-12-01")
CURRENT = VERSIONS[-1]
TOKEN_DEFAULT = "2026-11-01"
"""What a token speaks without the header, and what a new key is pinned to unless it names a
version: the stable contract's version."""
HEADER = "Caretrail-Version"

Route = tuple[str, str]
"""(method, route path), as in backend/auth/scopes.py."""
Transform = Callable[[Any], Any]


@dataclass(frozen=True)
class VersionChange:
    """A breaking change that `version` made, and how to undo it for callers of the versions
    before it: a request body of theirs is upgraded to the new shape before the handler reads
    it (`requests`), a successful JSON response downgraded to the old shape (`responses`), the
    fields of a 422 named as they were (`old_fields`: new name → old name), and the OpenAPI
    document, which describes TOKEN_DEFAULT, given the old request schemas (`schemas`)."""

    version: str
    summary: str
    requests: Mapping[Route, Transform] = field(default_factory=dict)
    responses: Mapping[Route, Transform] = field(default_factory=dict)
    old_fields: Mapping[str, str] = field(default_factory=dict)
    schemas: Callable[[dict[str, Any]], None] | None = None
    """Rewrites the document's component schemas in place."""

    def routes(self) -> frozenset[Route]:
        return frozenset(self.requests) | frozenset(self.responses)


def spoken(header: str | None, principal: Principal | None) -> str:
    """The version a request speaks: the header's (checked at the edge), else the key's pin,
    else TOKEN_DEFAULT."""
    if header is not None:
        return header.strip()
    if principal is not None and principal.key_id is not None and principal.api_version:
        return principal.api_version
    return TOKEN_DEFAULT


def changes_since(version: str, changes: tuple[VersionChange, ...]) -> list[VersionChange]:
    """The changes a caller of `version` must have undone, oldest first (dates compare as
    text)."""
    return sorted((c for c in changes if c.version > version), key=lambda c: c.version)
