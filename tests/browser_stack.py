"""The API that the web app's browser tests drive (frontend/e2e/run.ts starts this).

`caretrail serve` in dev mode (the dev sign-in exists) on a fresh, migrated database of the test
server, with the demo tenants (`caretrail demo`). Prints `READY <url>` once it answers ready and
the demo is in, serves until its standard input closes, then stops the server and drops the
database. The caller's environment passes through (the web app's origin for CORS, the payment
webhook secret the tests sign with).

    python tests/browser_stack.py PORT
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from infra import fresh_database, ok, server_answer


async def serve(port: int) -> int:
    async with fresh_database() as dsn:
        url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "CARETRAIL_ENV": "dev",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "CARETRAIL_DB_POOL_SIZE": "8",
        }
        cli = (sys.executable, "-m", "backend.cli")
        # The server's output goes to standard error: standard output is the caller's pipe,
        # which must close when this script ends.
        server = await asyncio.create_subprocess_exec(*cli, "serve", env=env, stdout=sys.stderr)
        try:
            async with httpx.AsyncClient(base_url=url) as client:
                ready = await server_answer(client, settled=ok, seconds=60)
            if ready is None or ready.status_code != 200:
                print("the API did not become ready", file=sys.stderr)
                return 1
            demo = await asyncio.create_subprocess_exec(*cli, "demo", "--api", url, env=env)
            if await demo.wait() != 0:
                return 1
            print(f"READY {url}", flush=True)
            await _until_told_to_stop()
            return 0
        finally:
            server.terminate()
            await asyncio.wait_for(server.wait(), 20)


async def _until_told_to_stop() -> None:
    """Until standard input closes or SIGTERM/SIGINT comes: either way the server is stopped
    and the database dropped (a signal's default action would orphan the server)."""
    loop = asyncio.get_running_loop()
    told = asyncio.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, told.set)

    def read_to_the_end() -> None:
        sys.stdin.read()
        loop.call_soon_threadsafe(told.set)

    # A daemon thread: asyncio.run would wait for an executor's thread still reading.
    threading.Thread(target=read_to_the_end, daemon=True).start()
    await told.wait()


if __name__ == "__main__":
    sys.exit(asyncio.run(serve(int(sys.argv[1]))))
