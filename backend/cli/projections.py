"""`caretrail projections status | resume NAME | quarantine NAME POSITION --reason --by |
rebuild NAME [--restart]`."""

from __future__ import annotations

import argparse
import sys

import asyncpg
from tqdm import tqdm

from backend import catalog
from backend.bootstrap import owner_database
from backend.eventstore.db import create_pool
from backend.settings import Settings
from projections import liveness
from projections.quarantine import QuarantineRefused, quarantine
from projections.rebuild import RebuildFailed, rebuild
from projections.service import ProjectionService
from projections.tracking import resume

BY_NAME = catalog.READ_MODELS_BY_NAME


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("projections", help="inspect, resume and rebuild read models")
    commands = parser.add_subparsers(dest="projections_command", required=True)
    commands.add_parser("status", help="position, lag and state of every projection")
    resume_cmd = commands.add_parser("resume", help="un-park a projection after fixing its cause")
    resume_cmd.add_argument("name", choices=sorted(BY_NAME))
    quarantine_cmd = commands.add_parser(
        "quarantine",
        help="skip one event for one projection (recorded with who and why), then resume it",
    )
    quarantine_cmd.add_argument("name", choices=sorted(BY_NAME))
    quarantine_cmd.add_argument("position", type=int, help="the event's global position")
    quarantine_cmd.add_argument("--reason", required=True, help="why it is skipped (kept)")
    quarantine_cmd.add_argument("--by", required=True, help="who decided (kept)")
    rebuild_cmd = commands.add_parser(
        "rebuild", help="replay from zero into a shadow table, then swap it in (resumable)"
    )
    rebuild_cmd.add_argument("name", choices=sorted(BY_NAME))
    rebuild_cmd.add_argument(
        "--restart", action="store_true", help="discard an interrupted rebuild and start over"
    )


async def run(settings: Settings, args: argparse.Namespace) -> int:
    owner_dsn = await owner_database(settings)
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
        if args.projections_command == "quarantine":
            return await _quarantine(pool, args)
        partitions = settings.kafka_partitions if settings.kafka_bootstrap_servers else None
        service = ProjectionService(
            pool, catalog.READ_MODELS, group="projections", partitions=partitions
        )
        seen = await liveness.runners(pool)
        for s in await service.status(seen):
            error = f"  error at {s.error_position}: {s.last_error}" if s.last_error else ""
            print(
                f"{s.name:<16} {s.state:<8} position {s.position:>10}"
                f"  lag {s.lag_events} events / {s.lag_seconds:.1f} s{error}"
            )
            for q in s.quarantined:
                print(
                    f"{'':<16} quarantined {q['position']} ({q['event_type']})"
                    f" by {q['quarantined_by']} at {q['quarantined_at']}: {q['reason']}"
                )
        for r in await service.relays():
            print(
                f"{'relay ' + r.name:<16} {r.state:<8} position {r.position:>10}"
                f"  lag {r.lag_events} events / {r.lag_seconds:.1f} s"
            )
        for runner in seen:
            print(
                f"{runner.kind + ' ' + runner.name:<24} {runner.state:<8}"
                f" seen {runner.seen_seconds_ago:.1f} s ago ({runner.process})"
            )
        return 0
    finally:
        await pool.close()


async def _quarantine(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    try:
        done = await quarantine(pool, args.name, args.position, args.reason, args.by)
    except QuarantineRefused as e:
        print(f"quarantine refused: {e}", file=sys.stderr)
        return 1
    print(
        f"{done.projection}: event {done.position} ({done.event_type}) quarantined by"
        f" {done.quarantined_by} at {done.quarantined_at.isoformat()}: {done.reason}"
    )
    print(
        f"{done.projection}: running"
        if done.resumed
        else f"{done.projection}: was not parked on it; it will skip it when it gets there"
    )
    return 0


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
