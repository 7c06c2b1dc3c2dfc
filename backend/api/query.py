"""Query parameters a route does not declare are refused, not ignored.

A list read answering the present to `?as_of=...` looks like an answer about the past; an
ignored parameter is a silent wrong answer. As a router dependency, `declared_query_only`
refuses every parameter its route does not declare with a 422 naming it.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from backend.kernel.errors import Invalid

HINTS = {
    "as_of": "read models answer the present; a past state is read per stream at "
    "/v1/streams/{type}/{id}?as_of=",
    "valid_at": "read models answer the present; a past state is read per stream at "
    "/v1/streams/{type}/{id}?valid_at=",
}


async def declared_query_only(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    unknown = sorted(set(request.query_params) - _declared_by(route))
    if unknown:
        name = unknown[0]
        raise Invalid(name, HINTS.get(name, "not a parameter of this endpoint"))


_DECLARED: dict[str, frozenset[str]] = {}


def _declared_by(route: APIRoute) -> frozenset[str]:
    """Per route, worked out once (routes are declared in code, so their ids are few)."""
    if route.unique_id not in _DECLARED:
        _DECLARED[route.unique_id] = frozenset(_declared(route.dependant))
    return _DECLARED[route.unique_id]


def _declared(dependant: Dependant) -> set[str]:
    """The query parameters of a route and of every dependency it has."""
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _declared(sub)
    return names
