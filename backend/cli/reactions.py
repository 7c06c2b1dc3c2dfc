"""`caretrail reactions run | status | resume NAME`.

`run` is the separate process for deployments that set CARETRAIL_REACTIONS_IN_API=false: every
reaction and the notification dispatcher, until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import structlog

from backend import catalog
from backend.bootstrap import configure, open_resources
from backend.reactions.framework import CHECKPOINT_PREFIX
from backend.settings import Settings
from backend.workers import Workers
from projections.tracking import resume

log = structlog.get_logger("caretrail.reactions")
NAMES = sorted(r.name for r in catalog.REACTIONS)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("reactions", help="run, inspect and resume reactions")
    commands = parser.add_subparsers(dest="reactions_command", required=True)
    commands.add_parser("run", help="run every reaction and the notification dispatcher")
    commands.add_parser("status", help="position, lag and state of every reaction")
    resume_cmd = commands.add_parser("resume", help="un-park a reaction after fixing its cause")
    resume_cmd.add_argument("name", choices=NAMES)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """As the API runs them: the same store (snapshot policy), plugins and master key."""
    running = args.reactions_command == "run"
    plugins = configure(settings) if running else None
    resources = await open_resources(settings, migrate=running)
    projector_pool = resources.projector_pool
    workers = Workers(settings, projector_pool, resources.store)
    try:
        if args.reactions_command == "run":
            await _run_until_signalled(workers)
        elif args.reactions_command == "resume":
            if not await resume(projector_pool, CHECKPOINT_PREFIX + args.name):
                print(f"{args.name} has not run yet", file=sys.stderr)
                return 1
            print(f"{args.name}: running")
        else:
            await workers.reactions.group.start()  # a reaction that never ran shows at 0
            for s in await workers.status():
                error = f"  error at {s.error_position}: {s.last_error}" if s.last_error else ""
                print(
                    f"{s.name:<24} {s.state:<8} position {s.position:>10}"
                    f"  lag {s.lag_events} events / {s.lag_seconds:.1f} s{error}"
                )
        return 0
    finally:
        await resources.pool.close()
        await projector_pool.close()
        if plugins is not None:
            await plugins.workers.close()


async def _run_until_signalled(workers: Workers) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await workers.start()
    log.info("reactions_started", reactions=NAMES)
    try:
        await stop.wait()
    finally:
        await workers.stop()
