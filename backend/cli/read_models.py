"""`caretrail audit check-read-models [--only NAME ...]`: rebuild each read model from the events
into a shadow table and compare it with the live one (projections/check.py). Prints one line per
read model and the rows that differ; exit status 1 if any differs or cannot be compared."""

from __future__ import annotations

import argparse

from backend import catalog
from projections.check import Comparison, Difference, NotComparable, check_read_model

BY_NAME = catalog.READ_MODELS_BY_NAME
SHOWN = 20
"""Differences printed per read model (all are counted)."""


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = commands.add_parser(
        "check-read-models", help="compare each read model with a rebuild from the events"
    )
    cmd.add_argument("--only", nargs="+", choices=sorted(BY_NAME), help="these read models")


async def run(owner_dsn: str, projector_dsn: str, only: list[str] | None) -> int:
    failed = False
    for name in only or list(BY_NAME):
        try:
            comparison = await check_read_model(owner_dsn, projector_dsn, BY_NAME[name])
        except NotComparable as e:
            print(f"{name:<16} not compared: {e}")
            failed = True
            continue
        _print(comparison)
        failed = failed or bool(comparison.differences)
    return 1 if failed else 0


def _print(c: Comparison) -> None:
    n = len(c.differences)
    verdict = f"{n} {'row differs' if n == 1 else 'rows differ'}" if n else "matches the events"
    at = c.checkpoint.position
    print(f"{c.projection:<16} {c.table}: {c.rows} rows, {verdict} (at position {at})")
    for difference in c.differences[:SHOWN]:
        print(f"  {_key(difference)} {_what(difference)}")
    if len(c.differences) > SHOWN:
        print(f"  ... and {len(c.differences) - SHOWN} more")


def _key(d: Difference) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.key.items())


def _what(d: Difference) -> str:
    if d.live is None:
        return "is missing from the read model"
    if d.rebuilt is None:
        return "is in the read model but no event makes it"
    changes = "; ".join(
        f"{c}: {d.live.get(c)!r} (events say {d.rebuilt.get(c)!r})" for c in d.columns
    )
    return f"differs: {changes}"
