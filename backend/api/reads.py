"""Reads: read models with read-your-writes, and the JSON responses of every read.

A read names the projection(s) it reads from. With `min_position` it waits (up to 5 s) until
each of them has applied the event at that position, then reads in the same transaction; if it
cannot, 503 PROJECTION_LAGGING with Retry-After. Every read-model response carries
`X-Projection-Position`: the position of the last event the projection had applied.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, Protocol
from uuid import UUID

import asyncpg
import orjson
from fastapi import Query, Request
from starlette.responses import Response

from backend.api.deps import tenant_of
from backend.api.problems import ApiError
from backend.auth.principal import Principal
from backend.eventstore import EventStore
from backend.kernel.errors import NotFound
from backend.kernel.jsonable import json_default

MAX_WAIT_SECONDS = 5.0
MinPosition = Annotated[
    int | None,
    Query(ge=1, le=2**62, description="wait until the read model has applied this position"),
]

# Per projection named in $1, applied: the checkpoint is at or past the event in the global
# order (tx_id, position); an event the caller cannot see (another tenant's, or not committed)
# is compared by position. A projection that never ran has applied nothing. The position
# reported is the least of the projections' (each has applied at least that far).
_CATCH_UP_PROGRESS = """
WITH names AS (SELECT DISTINCT unnest($1::text[]) AS name)
SELECT min(coalesce(c.position, 0)) AS position,
       bool_and(c.name IS NOT NULL AND
                CASE WHEN e.position IS NULL THEN c.position >= $2
                     ELSE (c.tx_id, c.position) >= (e.tx_id, e.position) END) AS applied
  FROM names n LEFT JOIN projection_checkpoints c ON c.name = n.name
       LEFT JOIN events e ON e.position = $2
"""
# Fed from Kafka, a projection progresses per partition: the event is applied when the
# partition its stream goes to is at or past it. A projection's position is the least of its
# partitions' (every partition has applied at least that far).
_KAFKA_PROGRESS = """
WITH progress AS (
  SELECT m.position,
         CASE WHEN e.position IS NULL THEN m.position >= $2
              ELSE EXISTS (SELECT 1 FROM projection_partitions p
                            WHERE p.name = n.name
                              AND p.partition = stream_partition(e.stream_id, $3)
                              AND (p.tx_id, p.position) >= (e.tx_id, e.position)) END AS applied
    FROM (SELECT DISTINCT unnest($1::text[]) AS name) AS n
         CROSS JOIN LATERAL (SELECT coalesce(min(p.position), 0) AS position
                               FROM projection_partitions p WHERE p.name = n.name) AS m
         LEFT JOIN events e ON e.position = $2
)
SELECT min(position) AS position, bool_and(applied) AS applied FROM progress
"""


@asynccontextmanager
async def read_model(
    request: Request,
    principal: Principal,
    projection: str | Sequence[str],
    min_position: int | None,
) -> AsyncIterator[tuple[asyncpg.Connection, int]]:
    """A tenant transaction on the read model(s), and the position they have all reached.

    A read that joins several read models names every projection behind them: `min_position`
    then waits until each of them has applied that event."""
    store: EventStore = request.app.state.store
    settings = request.app.state.settings
    names = [projection] if isinstance(projection, str) else list(projection)
    if settings.kafka_bootstrap_servers is None:
        query, args = _CATCH_UP_PROGRESS, [names, min_position]
    else:
        query, args = _KAFKA_PROGRESS, [names, min_position, settings.kafka_partitions]
    deadline = time.monotonic() + MAX_WAIT_SECONDS
    while True:
        async with store.transaction(tenant_of(principal)) as conn:
            row = await conn.fetchrow(query, *args)
            if min_position is None or row["applied"]:
                yield conn, row["position"] or 0
                return
        if time.monotonic() >= deadline:
            raise ApiError(
                503,
                "PROJECTION_LAGGING",
                f"the {', '.join(names)} read model has not reached position {min_position} yet",
                headers={"Retry-After": "1"},
            )
        await asyncio.sleep(0.01)


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
) -> Response:
    """The row `row_id` of `model` as its view shows it, with its version as ETag; 404 when it is
    not there (another tenant's rows are not there) or not `visible` to the caller."""
    async with read_model(request, principal, model.name, min_position) as (conn, at):
        row = await conn.fetchrow(f"SELECT * FROM {model.table} WHERE {model.key} = $1", row_id)
    if row is None or not visible(row):
        raise NotFound(f"{what} {row_id} not found")
    return read_model_response(model.view_of(row), at, {"ETag": f'"{row["version"]}"'})
