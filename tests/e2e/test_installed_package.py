"""The container image runs: the package installed as infrastructure/Dockerfile installs it (its
COPY lines, then a non-editable `pip install .` into an environment of its own, the sources
gone) serves a new database, migrated, with every specialty plugin of the repository loaded."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg
import httpx
import pytest
from infra import empty_databases, free_port, server_answer
from support import JWT_SECRET, TEST_MASTER_KEY

from backend.eventstore.migrate import current_revision, head_revision

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "infrastructure" / "Dockerfile"


def _copied_sources() -> list[str]:
    """What the Dockerfile's COPY lines take from the repository."""
    sources: list[str] = []
    for line in DOCKERFILE.read_text().splitlines():
        if match := re.match(r"COPY\s+(.+)\s+\S+$", line.strip()):
            sources.extend(match.group(1).split())
    return sources


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with the package installed from a copy of the image's sources;
    the copy is removed afterwards, as the image removes it."""
    root = tmp_path_factory.mktemp("image")
    sources = root / "src"
    sources.mkdir()
    for name in _copied_sources():
        origin = REPO / name
        if origin.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(origin, sources / name, ignore=ignore)
        else:
            shutil.copy2(origin, sources / name)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, str(sources)], check=True, timeout=900, capture_output=True)
    shutil.rmtree(sources)
    package = next(venv.glob("lib/python3*/site-packages/backend"))
    assert not (package.parent / "migrations").exists()  # only the copy inside the package
    return venv


def _repository_plugins() -> list[str]:
    return sorted(p.name for p in (REPO / "plugins").iterdir() if (p / "manifest.yaml").exists())


def test_the_image_copies_what_the_package_needs() -> None:
    assert {"pyproject.toml", "setup.py", "backend", "migrations", "plugins"} <= set(
        _copied_sources()
    )
    assert "pip install --no-cache-dir ." in DOCKERFILE.read_text()


async def test_the_installed_package_migrates_a_new_database_and_loads_every_plugin(
    installed: Path, tmp_path: Path
) -> None:
    plugins = _repository_plugins()
    async with empty_databases(1) as (dsn,):
        port = free_port()
        env = {
            "PATH": f"{installed / 'bin'}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "DATABASE_URL": dsn,
            "CARETRAIL_ENV": "test",
            "CARETRAIL_JWT_SECRET": JWT_SECRET,
            "CARETRAIL_MASTER_KEY": os.environ.get("CARETRAIL_MASTER_KEY", TEST_MASTER_KEY),
            "PORT": str(port),
        }
        proc = await _caretrail(installed, "serve", env, tmp_path)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
                ready = await server_answer(c)
        finally:
            if proc.returncode is None:
                proc.terminate()
            output, _ = await asyncio.wait_for(proc.communicate(), 15)
        assert ready is not None, output.decode()[-3000:]
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["checks"]["migrations"] == "ok"
        assert sorted(body["plugins"]["loaded"]) == plugins
        assert body["plugins"]["invalid"] == {}
        migrate = await _caretrail(installed, "migrate", env, tmp_path)
        migrate_output, _ = await asyncio.wait_for(migrate.communicate(), 120)
        assert migrate.returncode == 0, migrate_output.decode()
        conn = await asyncpg.connect(dsn)
        try:
            assert await current_revision(conn) == head_revision()
        finally:
            await conn.close()


async def _caretrail(
    venv: Path, command: str, env: dict[str, str], cwd: Path
) -> asyncio.subprocess.Process:
    """The installed command, run where nothing of the repository is around it."""
    return await asyncio.create_subprocess_exec(
        str(venv / "bin" / "caretrail"),
        command,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
