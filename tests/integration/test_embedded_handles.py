"""The embedded server's handle count forgets processes that died without their exit hook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from backend.eventstore.embedded import _forget_dead_handles


def test_dead_processes_are_dropped_and_live_ones_kept(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead = int(finished.stdout)
    handles = tmp_path / ".handle_pids.json"
    handles.write_text(json.dumps([dead, os.getpid(), 1]))
    _forget_dead_handles(handles)
    assert json.loads(handles.read_text()) == [os.getpid(), 1]


def test_no_handles_file_is_left_alone(tmp_path: Path) -> None:
    _forget_dead_handles(tmp_path / ".handle_pids.json")
    assert not (tmp_path / ".handle_pids.json").exists()
