"""`caretrail webhooks run`: the webhook dispatcher alone, for deployments that set
CARETRAIL_WEBHOOKS_OWN_PROCESS=true (outbound HTTP to partners kept apart from the API and the
reactions), until SIGTERM or SIGINT. Several may run: they share the subscriptions by lease."""

from __future__ import annotations

import argparse
import asyncio
import signal

import structlog

from backend.bootstrap import open_resources
from backend.settings import Settings
from backend.workers import webhook_dispatcher

log = structlog.get_logger("caretrail.webhooks")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("webhooks", help="deliver webhook subscriptions")
    commands = parser.add_subparsers(dest="webhooks_command", required=True)
    commands.add_parser("run", help="run the webhook dispatcher until signalled")


async def run(settings: Settings) -> int:
    resources = await open_resources(settings, migrate=True)
    dispatcher = webhook_dispatcher(settings, resources.projector_pool, resources.store)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await dispatcher.start()
    log.info("webhooks_started")
    try:
        await stop.wait()
    finally:
        await dispatcher.stop()
        await resources.pool.close()
        await resources.projector_pool.close()
    return 0
