"""`caretrail projections status | resume NAME | rebuild NAME [--restart]`."""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from backend.eventstore.db import create_pool
from backend.eventstore.embedded import start_embedded
from backend.settings import Settings
from projections import read_models
from projections.catchup import resume
from projections.rebuild import RebuildFailed, rebuild
from projections.service import ProjectionService

BY_NAME = {p.name: p for p in read_models.ALL}


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("projections", help="inspect, resume and rebuild read models")
    commands = parser.add_subparsers(dest="projections_command", required=True)
    commands.add_parser("status", help="position, lag and state of every projection")
    resume_cmd = commands.add_parser("resume", help="un-park a projection after fixing its cause")
    resume_cmd.add_argument("name", choices=sorted(BY_NAME))
    rebuild_cmd = commands.add_parser(
        "rebuild", help="replay from zero into a shadow table, then swap it in (resumable)"
    )
    rebuild_cmd.add_argument("name", choices=sorted(BY_NAME))
    rebuild_cmd.add_argument(
        "--restart", action="store_true", help="discard an interrupted rebuild and start over"
    )


async def run(settings: Settings, args: argparse.Namespace) -> int:
    owner_dsn = settings.database_url or await start_embedded(settings.data_dir)
    projector_dsn = settings.projector_dsn(owner_dsn)
    if args.projections_command == "rebuild":
        return await _rebuild(owner_dsn, projector_dsn, args.name, args.restart)
    pool = await create_pool(projector_dsn, min_size=1, max_size=1)
    try:
        if args.projections_command == "resume":
            if not await resume(pool, args.name):
                print(f"{args.name} has not run yet", file=sys.stderr)
                return 1
            print(f"{args.name}: running")
            return 0
        for s in await ProjectionService(pool, read_models.ALL).status():
            error = f"  error at {s.error_position}: {s.last_error}" if s.last_error else ""
            print(
                f"{s.name:<16} {s.state:<8} position {s.position:>10}"
                f"  lag {s.lag_events} events / {s.lag_seconds:.1f} s{error}"
            )
        return 0
    finally:
        await pool.close()


async def _rebuild(owner_dsn: str, projector_dsn: str, name: str, restart: bool) -> int:
    with tqdm(desc=f"rebuild {name}", unit=" events", file=sys.stderr) as bar:

        def progress(applied: int, ahead: int) -> None:
            bar.total = applied + ahead
            bar.update(applied - bar.n)

        try:
            applied = await rebuild(
                owner_dsn, projector_dsn, BY_NAME[name], progress, restart=restart
            )
        except RebuildFailed as e:
            print(f"rebuild failed: {e}", file=sys.stderr)
            return 1
    print(f"{name}: rebuilt from {applied} events and swapped in")
    return 0
