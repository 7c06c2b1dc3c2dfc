"""One way to page every list: keyset pages of at most `MAX_LIMIT` rows, answered as
`{"items": [...], "next_cursor": <opaque> | null}`.

A list names its order (`Keyset`: columns that together identify a row, each with its SQL
type); the page after a cursor is the rows strictly after the cursor's row in that order, so
a row inserted or removed meanwhile never shifts a page (no OFFSET). The cursor is the last
row's key, as JSON in URL-safe base64: opaque to the caller, checked when it comes back (a
cursor this list did not issue is 422 naming `cursor`). Column names and the query come from
code, never from the request; every value is a bound parameter.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import orjson
from fastapi import Query

from backend.api import access
from backend.kernel.errors import Invalid

MAX_LIMIT = 500
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"rows per page, at most {MAX_LIMIT}")]
Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=512,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="next_cursor of the page before (opaque)",
    ),
]


@dataclass(frozen=True)
class Keyset:
    """The order of a list: (column, SQL type) pairs, all ascending or all descending. The
    last column must make the key unique (an id)."""

    columns: tuple[tuple[str, str], ...]
    descending: bool = False

    def order_by(self) -> str:
        direction = " DESC" if self.descending else ""
        return ", ".join(f"{c}{direction}" for c, _ in self.columns)

    def after(self, first_parameter: int) -> str:
        """SQL: the row comes after the cursor's, whose values are parameters from
        `first_parameter` on (as text, cast to each column's type)."""
        names = ", ".join(c for c, _ in self.columns)
        values = ", ".join(
            f"${first_parameter + i}::text::{t}" for i, (_, t) in enumerate(self.columns)
        )
        return f"({names}) {'<' if self.descending else '>'} ({values})"

    def cursor_of(self, row: asyncpg.Record | Mapping[str, Any]) -> str:
        values = [_text(row[c]) for c, _ in self.columns]
        return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")

    def decode(self, cursor: str) -> list[str]:
        try:
            values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        except (binascii.Error, ValueError):
            raise Invalid("cursor", "not a cursor this list issued") from None
        if (
            not isinstance(values, list)
            or len(values) != len(self.columns)
            or not all(isinstance(v, str) for v in values)
        ):
            raise Invalid("cursor", "not a cursor this list issued")
        return values

    def key_of(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(row[c] for c, _ in self.columns)

    def decode_typed(self, cursor: str) -> tuple[Any, ...]:
        """The cursor's row key as Python values, to compare with `key_of` rows."""
        try:
            return tuple(
                _PARSERS[t](v) for (_, t), v in zip(self.columns, self.decode(cursor), strict=True)
            )
        except ValueError:
            raise Invalid("cursor", "not a cursor this list issued") from None


_PARSERS: dict[str, Callable[[str], Any]] = {
    "uuid": UUID,
    "text": str,
    "timestamptz": dt.datetime.fromisoformat,
}


async def page(
    conn: asyncpg.Connection,
    select: str,
    where: str,
    args: Sequence[Any],
    keyset: Keyset,
    cursor: str | None,
    limit: int,
    view: Callable[[asyncpg.Record], Any],
) -> dict[str, Any]:
    """`SELECT ... FROM ...` (`select`) filtered by `where` (its parameters `args`, $1 on),
    the page after `cursor` in `keyset` order: `{"items", "next_cursor"}`."""
    conditions, parameters = [f"({where})"], list(args)
    if cursor is not None:
        values = keyset.decode(cursor)
        conditions.append(keyset.after(len(parameters) + 1))
        parameters += values
    parameters.append(min(limit, MAX_LIMIT) + 1)
    sql = (
        f"{select} WHERE {' AND '.join(conditions)}"
        f" ORDER BY {keyset.order_by()} LIMIT ${len(parameters)}"
    )
    try:
        rows = await conn.fetch(sql, *parameters)
    except asyncpg.DataError:
        if cursor is None:
            raise
        raise Invalid("cursor", "not a cursor this list issued") from None
    shown = rows[:limit]
    access.saw_rows(shown)
    more = len(rows) > limit
    return {
        "items": [view(r) for r in shown],
        "next_cursor": keyset.cursor_of(shown[-1]) if more and shown else None,
    }


def page_of(
    rows: Sequence[Mapping[str, Any]],
    keyset: Keyset,
    cursor: str | None,
    limit: int,
    view: Callable[[Mapping[str, Any]], Any],
) -> dict[str, Any]:
    """`page` for a list computed in memory rather than queried (a state folded from events):
    the same shape and cursors, in the order of Python's comparison of the key's values."""
    ordered = sorted(rows, key=keyset.key_of, reverse=keyset.descending)
    if cursor is not None:
        after = keyset.decode_typed(cursor)
        ordered = [
            r
            for r in ordered
            if (keyset.key_of(r) < after if keyset.descending else keyset.key_of(r) > after)
        ]
    shown = ordered[: min(limit, MAX_LIMIT)]
    more = len(ordered) > len(shown)
    return {
        "items": [view(r) for r in shown],
        "next_cursor": keyset.cursor_of(shown[-1]) if more and shown else None,
    }


def _text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)
