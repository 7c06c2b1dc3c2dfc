"""Running plugin calculators under a time budget, in worker processes.

Calculators (expressions and functions.py alike) never run on the API's event loop nor inside
a command's transaction: a command lists the calculations it needs and `run_command` ends
its transaction while they run here (backend/handling.py, `OutsideWork`). Each worker is a
child process (backend/specialties/calculator_worker.py) answering one calculation at a time. A
calculation that has not answered within the budget is abandoned and its worker killed (a
thread could not be), so a calculator that never returns costs one budget of one worker.
A calculator over budget PARK_AFTER times in a row is parked: refused at once, without
starting, until the plugins are reloaded.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Hashable, Iterable, MutableMapping
from pathlib import Path
from typing import Any

import structlog

from backend.kernel.errors import DomainError
from backend.specialties.model import Calculation, Outcome

log = structlog.get_logger("caretrail.plugins")
PARK_AFTER = 3
START_TIMEOUT = 10.0
"""Seconds a new worker may take to start (not counted in a calculation's budget)."""
CHECK_TIMEOUT = 10.0
"""Seconds a functions.py may take to load when a plugin loads."""
WORKER = [sys.executable, "-m", "backend.specialties.calculator_worker"]
SOURCE_ROOT = Path(__file__).resolve().parents[2]


class CalculatorsBusy(DomainError):
    """Every worker stayed busy for a whole budget: try again shortly."""

    code = "CALCULATORS_BUSY"
    status = 503


class _Gone(Exception):
    """The worker process ended without answering."""


def worker_environment() -> dict[str, str]:
    """Only what Python needs: plugin code never sees the API's secrets or database URLs."""
    return {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(SOURCE_ROOT), "LANG": "C.UTF-8"}


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            *WORKER,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=worker_environment(),
        )
        worker = cls(process)
        try:
            await asyncio.wait_for(worker._answer(), START_TIMEOUT)  # {"ready": true}
        except BaseException:
            worker.kill()
            raise
        return worker

    async def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        await self.process.stdin.drain()
        return await self._answer()

    async def _answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        if not line:
            raise _Gone(f"exit code {await self.process.wait()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()  # the event loop's child watcher reaps it
        if self.process.stdin is not None:
            self.process.stdin.close()


class CalculatorWorkers:
    """A pool of `size` calculator workers, started when first needed, on the running loop."""

    def __init__(self, budget: float = 1.0, size: int = 2) -> None:
        self.budget = budget
        self.size = size
        self._idle: asyncio.Queue[_Worker | None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._over_budget: dict[tuple[str, str, str], int] = {}

    async def run(
        self, calculations: Iterable[Calculation], into: MutableMapping[Hashable, Outcome]
    ) -> None:
        """Compute the calculations concurrently; each outcome goes into `into` by its key."""
        todo = {c.key: c for c in calculations if c.key not in into}
        outcomes = await asyncio.gather(*(self._run(c) for c in todo.values()))
        into.update(zip(todo, outcomes, strict=True))

    def parked(self, plugin: str, version: str) -> list[str]:
        """The plugin's calculators refused until the next reload."""
        return sorted(
            calc
            for (name, at, calc), count in self._over_budget.items()
            if (name, at) == (plugin, version) and count >= PARK_AFTER
        )

    def unpark(self) -> None:
        self._over_budget.clear()

    async def close(self) -> None:
        if self._idle is None:
            return
        while not self._idle.empty():
            worker = self._idle.get_nowait()
            if worker is not None:
                worker.kill()
                await worker.process.wait()
        self._idle = None

    def _pool(self) -> asyncio.Queue[_Worker | None]:
        loop = asyncio.get_running_loop()
        if self._idle is None or self._loop is not loop:
            while self._idle is not None and not self._idle.empty():
                worker = self._idle.get_nowait()  # of another event loop: not usable here
                if worker is not None:
                    worker.kill()
            self._loop, self._idle = loop, asyncio.Queue()
            for _ in range(self.size):
                self._idle.put_nowait(None)  # an empty place: a worker starts when taken
        return self._idle

    async def _run(self, calculation: Calculation) -> Outcome:
        calc = calculation.calculator
        parking = (calculation.plugin, calculation.plugin_version, calc.id)
        if self._over_budget.get(parking, 0) >= PARK_AFTER:
            return Outcome(failure=self._parked_message())
        pool = self._pool()
        try:
            worker = await asyncio.wait_for(pool.get(), self.budget)
        except TimeoutError:
            msg = f"every calculator worker stayed busy for {self.budget:g} s; try again"
            raise CalculatorsBusy(msg) from None
        reusable = False
        try:
            if worker is None:
                worker = await _Worker.start()
            answer = await asyncio.wait_for(worker.ask(_request(calculation)), self.budget)
            reusable = True
        except TimeoutError:
            if worker is None:
                return Outcome(failure=f"no calculator worker started within {START_TIMEOUT:g} s")
            count = self._over_budget[parking] = self._over_budget.get(parking, 0) + 1
            _log_over_budget(calculation, self.budget, count)
            return Outcome(failure=f"took longer than its time budget of {self.budget:g} s")
        except (_Gone, OSError) as e:
            return Outcome(failure=f"its worker process ended ({e})")
        except ValueError:  # a line that is not the protocol's: the worker is not trusted again
            return Outcome(failure="its worker process answered out of protocol")
        finally:
            if worker is not None and not reusable:
                worker.kill()  # stuck, gone or abandoned (a cancelled request): never reused
            pool.put_nowait(worker if reusable else None)
        self._over_budget.pop(parking, None)
        if "error" in answer:
            return Outcome(failure=answer["error"])
        return Outcome(value=answer["result"])

    def _parked_message(self) -> str:
        return (
            f"parked after {PARK_AFTER} runs over its time budget of {self.budget:g} s;"
            " fix it, then reload the plugins"
        )


def _request(calculation: Calculation) -> dict[str, Any]:
    calc, inputs = calculation.calculator, dict(calculation.inputs)
    if calc.expression is not None:
        return {"expression": calc.expression.text, "inputs": inputs}
    assert calc.function is not None
    function = calc.function
    return {
        "module": function.module,
        "source": function.source,
        "function": function.name,
        "inputs": inputs,
    }


def _log_over_budget(calculation: Calculation, budget: float, count: int) -> None:
    log.error(
        "calculator_over_budget",
        plugin=calculation.plugin,
        plugin_version=calculation.plugin_version,
        calculator=calculation.calculator.id,
        calculator_version=calculation.calculator.version,
        budget_seconds=budget,
        times_in_a_row=count,
        parked=count >= PARK_AFTER,
    )


def functions_missing(module: str, source: str, names: list[str]) -> list[str] | str:
    """Load a functions.py in a one-off worker (never in the API process): the names that
    are not public functions defined in it, or why it does not load."""
    request = {"module": module, "source": source, "check": names}
    try:
        done = subprocess.run(
            [*WORKER, "--check"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT,
            env=worker_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"took longer than {CHECK_TIMEOUT:g} s to load"
    if not done.stdout:
        return f"its worker ended (exit code {done.returncode})"
    answer: dict[str, Any] = json.loads(done.stdout)
    if "error" in answer:
        return str(answer["error"])
    missing: list[str] = answer["not_functions"]
    return missing
