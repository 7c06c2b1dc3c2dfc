"""`caretrail audit export --tenant ID --from TIME [--to TIME] [--out FILE]`: the audit export
as NDJSON to a file (or stdout), with a progress bar and ETA on stderr."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import BinaryIO
from uuid import UUID

from tqdm import tqdm

from backend.audit import export
from backend.eventstore import EventStore
from backend.eventstore.db import create_pool
from backend.eventstore.embedded import start_embedded
from backend.kernel.errors import DomainError
from backend.settings import Settings


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("audit", help="the auditor's tools")
    commands = parser.add_subparsers(dest="audit_command", required=True)
    cmd = commands.add_parser("export", help="a tenant's events recorded in a period, as NDJSON")
    cmd.add_argument("--tenant", type=UUID, required=True)
    cmd.add_argument("--from", dest="start", type=_instant, required=True, help="RFC 3339")
    cmd.add_argument("--to", dest="end", type=_instant, help="RFC 3339; default now")
    cmd.add_argument("--out", help="file to write; default stdout")


def _instant(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        msg = f"{text!r} has no offset (e.g. 2026-01-01T00:00:00Z)"
        raise argparse.ArgumentTypeError(msg)
    return moment


async def run(settings: Settings, args: argparse.Namespace) -> int:
    owner_dsn = settings.database_url or await start_embedded(settings.data_dir)
    pool = await create_pool(settings.runtime_dsn(owner_dsn), min_size=1, max_size=2)
    horizon = await create_pool(settings.projector_dsn(owner_dsn), min_size=1, max_size=1)
    try:
        store = EventStore(pool)
        try:
            period = await export.settled_period(horizon, args.start, args.end)
        except DomainError as e:
            print(f"export refused: {e.detail}", file=sys.stderr)
            return 1
        total = await export.count(store, args.tenant, period)
        if args.out:
            with open(args.out, "wb") as out:  # noqa: ASYNC230 (a CLI: nothing else runs)
                await _write(store, args.tenant, period, total, out)
        else:
            await _write(store, args.tenant, period, total, sys.stdout.buffer)
        print(
            f"exported {total} events recorded in [{period.start.isoformat()},"
            f" {period.end.isoformat()})",
            file=sys.stderr,
        )
        return 0
    finally:
        await pool.close()
        await horizon.close()


async def _write(
    store: EventStore, tenant: UUID, period: export.Period, total: int, out: BinaryIO
) -> None:
    with tqdm(total=total, desc="audit export", unit=" events", file=sys.stderr) as bar:
        async for lines in export.pages(store, tenant, period):
            out.write(export.ndjson(lines))
            bar.update(len(lines))
