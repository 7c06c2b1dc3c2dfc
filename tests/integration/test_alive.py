"""`caretrail alive`, the health check of the processes without HTTP: healthy while the
runner's heartbeat is recent, unhealthy (exit 1, saying why) when it is not or never beat."""

from __future__ import annotations

import argparse
import uuid

import asyncpg
import pytest

from backend.cli import alive
from backend.settings import Settings
from projections import liveness


async def test_alive_while_the_runner_beats(
    settings: Settings,
    owner_dsn: str,
    projector_pool: asyncpg.Pool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with_db = settings.model_copy(update={"database_url": owner_dsn})
    name = f"alive-{uuid.uuid4().hex[:8]}"
    check = argparse.Namespace(kind="projector", name=name)
    assert await alive.run(with_db, check) == 1
    assert "never seen" in capsys.readouterr().out

    await liveness.Heartbeat(projector_pool, liveness.PROJECTOR, name).beat()
    assert await alive.run(with_db, check) == 0

    await projector_pool.execute(
        "UPDATE runner_liveness SET seen_at = now() - interval '1 minute' WHERE name = $1", name
    )
    assert await alive.run(with_db, check) == 1
    assert "last seen" in capsys.readouterr().out
