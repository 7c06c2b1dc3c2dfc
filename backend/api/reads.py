"""Reads: read models with read-your-writes, and the JSON responses of every read.

A read names the projection(s) it reads from. With `min_position` it waits (up to 5 s) until
each of them has applied every event up to that position in the global order, then reads; if it
cannot, 503 PROJECTION_LAGGING with Retry-After. Every read-model response carries
`X-Projection-Position`: a consistency token, the position of the last event in the global
order up to which the read models had applied everything. Given back as `min_position`, it
makes a later read at least as new as this one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, Protocol
from uuid import UUID

import asyncpg
import orjson
from fastapi import Query, Request
from starlette.responses import Response

from backend.api import access
from backend.api.deps import tenant_of
from backend.api.problems import ApiError
from backend.api.progress import ProgressWatch
from backend.auth.principal import Principal
from backend.eventstore import EventStore
from backend.eventstore.types import GlobalCheckpoint
from backend.kernel.errors import Invalid, NotFound
from backend.kernel.jsonable import json_default
from projections import tracking

MAX_WAIT_SECONDS = 5.0
MinPosition = Annotated[
    int | None,
    Query(ge=1, le=2**62, description="wait until the read model has applied this position"),
]


@asynccontextmanager
async def read_model(
    request: Request,
    principal: Principal,
    projection: str | Sequence[str],
    min_position: int | None,
) -> AsyncIterator[tuple[asyncpg.Connection, int]]:
    """A tenant transaction on the read model(s), and the position they have all reached; the
    read's access row (backend/api/access.py) is written in it before it commits.

    With `min_position`, first waits (through the process's ProgressWatch) until every named
    projection has applied everything up to that position in the global order, whatever
    partition or stream it was on; a read that joins several read models names every
    projection behind them. A position the store has never reached is refused at once."""
    names = [projection] if isinstance(projection, str) else list(projection)
    watch: ProgressWatch = request.app.state.progress
    if min_position is not None:
        target, head = await watch.place_of(min_position)
        if target is None or min_position > head:
            raise Invalid(
                "min_position", f"the store has not reached position {min_position} (head {head})"
            )
        if not await watch.wait(names, target, MAX_WAIT_SECONDS):
            raise ApiError(
                503,
                "PROJECTION_LAGGING",
                f"the {', '.join(names)} read model has not reached position {min_position} yet",
                headers={"Retry-After": "1"},
            )
    store: EventStore = request.app.state.store
    noting = access.begin()
    try:
        async with store.transaction(tenant_of(principal)) as conn:
            places = await tracking.least_places(conn, watch.partitions)
            reached = min(
                (places.get(n, GlobalCheckpoint()) for n in names), default=GlobalCheckpoint()
            )
            # Having waited for min_position's place, the read models are past it in the global
            # order even when the event they stopped at has a lower position (it committed
            # later): min_position is then as good a token, and the caller's own.
            yield conn, max(reached.position, min_position or 0)
            broke = bool(getattr(request.state, "break_glass", False))
            await access.record(conn, request, principal, access.seen_so_far(), break_glass=broke)
    finally:
        access.end(noting)


def read_model_response(
    body: Any, position: int, headers: dict[str, str] | None = None
) -> Response:
    return json_response(body, {**(headers or {}), "X-Projection-Position": str(position)})


def json_response(body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body, default=json_default), media_type="application/json", headers=headers
    )


class KeyedReadModel(Protocol):
    """A read model with one row per stream: its projection's name, its table, its key column
    (names from code, never from a request)."""

    @property
    def name(self) -> str: ...

    @property
    def table(self) -> str: ...

    @property
    def key(self) -> str: ...

    def view_of(self, row: asyncpg.Record) -> dict[str, Any]: ...


async def read_one(
    request: Request,
    principal: Principal,
    model: KeyedReadModel,
    row_id: UUID,
    min_position: int | None,
    what: str,
    visible: Callable[[asyncpg.Record], bool] = lambda _: True,
    checked: Callable[[asyncpg.Connection, asyncpg.Record], Awaitable[None]] | None = None,
) -> Response:
    """The row `row_id` of `model` as its view shows it, with its version as ETag; 404 when it is
    not there (another tenant's rows are not there) or not `visible` to the caller. `checked`
    may refuse the read of a row that is there (it raises) before anything is shown."""
    async with read_model(request, principal, model.name, min_position) as (conn, at):
        row = await conn.fetchrow(f"SELECT * FROM {model.table} WHERE {model.key} = $1", row_id)
        if row is not None and visible(row):
            if checked is not None:
                await checked(conn, row)
            access.saw_rows([row])
    if row is None or not visible(row):
        raise NotFound(f"{what} {row_id} not found")
    return read_model_response(model.view_of(row), at, {"ETag": f'"{row["version"]}"'})
