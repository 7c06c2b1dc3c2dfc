"""docs/operations.md's runbooks stay true: every command block names the test that runs it, that
test exists and runs each command of the block, and every `caretrail` command in them parses with
the real command line (so a renamed command or argument fails here, not at 3 a.m.)."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from backend.cli import main

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = REPO / "docs" / "operations.md"
RUN_BY = re.compile(r"# run by (tests/\S+\.py)$")
ASSIGNMENT = re.compile(r"^[A-Z_]+=\S*$")
UNCHECKED = {"curl", "export", "openssl"}
"""Programs whose part the named test plays another way (an HTTP client, the environment)."""


def _runbook_blocks() -> list[list[str]]:
    text = OPERATIONS.read_text()
    section = text.split("\n## Runbooks\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    return [block.strip().splitlines() for block in blocks]


def _commands(lines: list[str]) -> list[list[str]]:
    """Each command line as words: comments, and the environment assigned before it, dropped."""
    commands = []
    for line in lines:
        words = shlex.split(line, comments=True)
        while words and ASSIGNMENT.match(words[0]):
            words.pop(0)
        if words:
            commands.append(words)
    return commands


BLOCKS = _runbook_blocks()


def test_there_are_runbooks() -> None:
    headings = re.findall(r"^### (.+)$", OPERATIONS.read_text(), flags=re.MULTILINE)
    for runbook in ("Deploy", "Upgrade and rollback", "Restore", "A parked projection"):
        assert runbook in headings
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b[0])
def test_every_block_is_run_by_the_test_it_names(block: list[str]) -> None:
    found = RUN_BY.match(block[0])
    assert found, f"the block does not start with '# run by tests/...py': {block[0]}"
    test_file = REPO / found.group(1)
    assert test_file.exists(), test_file
    source = test_file.read_text()
    for words in _commands(block[1:]):
        program, *args = words
        if program in UNCHECKED:
            continue
        if program == "caretrail":
            subcommands = [a for a in args if not a.startswith("-")][:2]
            named = [w for w in subcommands if f'"{w}"' in source]
            assert named == subcommands, f"{test_file.name} does not run {' '.join(words)}"
        else:
            assert program in source, f"{test_file.name} does not run {program}"


@pytest.mark.parametrize(
    "words",
    [w for block in BLOCKS for w in _commands(block) if w[0] == "caretrail"],
    ids=" ".join,
)
def test_every_caretrail_command_parses(words: list[str]) -> None:
    """`--help` after a command exits 0 only when everything before it parsed."""
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()) as errors,
        pytest.raises(SystemExit) as exit_,
    ):
        main([*words[1:], "--help"])
    assert exit_.value.code == 0, errors.getvalue()
