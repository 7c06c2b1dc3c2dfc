"""`caretrail audit export --tenant ID --from TIME [--to TIME] [--out FILE] [--reason TEXT]`:
the audit export as NDJSON to a file (or stdout), with a progress bar and ETA on stderr, written
in the access log first as every read of patients' records is (backend/api/access.py).
`caretrail audit check-read-models`: backend/cli/read_models.py."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import BinaryIO
from uuid import UUID

from tqdm import tqdm

from backend.api import access
from backend.audit import export
from backend.bootstrap import owner_database
from backend.cli import read_models as read_models_cli
from backend.eventstore import EventStore
from backend.eventstore.db import create_pool
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
    cmd.add_argument(
        "--reason", type=_reason, help="why: kept in the access log with the export's row"
    )
    read_models_cli.add_command(commands)


def _instant(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        msg = f"{text!r} has no offset (e.g. 2026-01-01T00:00:00Z)"
        raise argparse.ArgumentTypeError(msg)
    return moment


def _reason(text: str) -> str:
    try:
        reason = access.reason_given(text, "--reason")
    except DomainError as e:
        raise argparse.ArgumentTypeError(e.detail.removeprefix("--reason: ")) from None
    if reason is None:
        raise argparse.ArgumentTypeError("a reason cannot be blank")
    return reason


async def run(settings: Settings, args: argparse.Namespace) -> int:
    owner_dsn = await owner_database(settings)
    if args.audit_command == "check-read-models":
        return await read_models_cli.run(owner_dsn, settings.projector_dsn(owner_dsn), args.only)
    pool = await create_pool(settings.runtime_dsn(owner_dsn), min_size=1, max_size=2)
    horizon = await create_pool(settings.projector_dsn(owner_dsn), min_size=1, max_size=1)
    try:
        store = EventStore(pool)
        try:
            period = await export.settled_period(horizon, args.start, args.end)
        except DomainError as e:
            print(f"export refused: {e.detail}", file=sys.stderr)
            return 1
        if settings.access_log:  # recorded before a line is written, as the endpoint's
            async with store.transaction(args.tenant) as conn:
                await access.record_command_line(
                    conn,
                    args.tenant,
                    "caretrail audit export",
                    {
                        "from": period.start.isoformat(),
                        "to": period.end.isoformat(),
                        "out": args.out or "-",
                    },
                    args.reason,
                )
        total = await export.count(store, args.tenant, period)
        if args.out:
            with open(args.out, "wb") as out:  # noqa: ASYNC230 (a CLI: nothing else runs)
                unreadable = await _write(store, args.tenant, period, total, out)
        else:
            unreadable = await _write(store, args.tenant, period, total, sys.stdout.buffer)
        print(
            f"exported {total} events recorded in [{period.start.isoformat()},"
            f" {period.end.isoformat()})",
            file=sys.stderr,
        )
        if unreadable:
            print(
                f"{len(unreadable)} events with sealed fields that no longer open (altered;"
                f' exported as "[unreadable]"): {", ".join(map(str, unreadable))}',
                file=sys.stderr,
            )
        return 0
    finally:
        await pool.close()
        await horizon.close()


async def _write(
    store: EventStore, tenant: UUID, period: export.Period, total: int, out: BinaryIO
) -> list[UUID]:
    """Write the export; the events whose sealed fields did not open."""
    unreadable: list[UUID] = []
    with tqdm(total=total, desc="audit export", unit=" events", file=sys.stderr) as bar:
        async for page in export.pages(store, tenant, period):
            out.write(export.ndjson(page.lines))
            unreadable += page.unreadable
            bar.update(len(page.lines))
    return unreadable
