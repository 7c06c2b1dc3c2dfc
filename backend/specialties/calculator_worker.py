"""A calculator worker: a child process of the API that runs plugin calculators, so that a slow,
stuck or crashing calculator costs its own process, never the API's event loop.

Started by backend/specialties/calculators.py as `python -m backend.specialties.calculator_worker`,
with an environment that holds no secret of the API's and a memory limit. It answers one
JSON line per request line:

    {"expression": "...", "inputs": {...}}                      -> {"result": value}
    {"module": m, "source": s, "function": f, "inputs": {...}}  -> {"result": value}
    {"module": m, "source": s, "check": [names]}                -> {"not_functions": [names]}
    anything that fails                                         -> {"error": "why"}

The protocol keeps the process's original stdin and stdout to itself: plugin code that prints
writes to stderr, and reads from an empty stdin. With `--check` it answers a single request
and exits (how the loader tries a functions.py without running it in the API).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sys
import types
from typing import IO, Any

from backend.specialties.expressions import EvaluationError, Expression, compile_expression

MEMORY_LIMIT = 1 << 30
"""Address space a worker may use (bytes): a runaway allocation fails in the worker."""
MAX_MESSAGE = 300
READY = {"ready": True}


def main() -> None:
    requests, answers = _own_protocol_streams()
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    worker = _Worker()
    if "--check" in sys.argv:
        _send(answers, worker.answer(json.loads(requests.readline())))
        return
    _send(answers, READY)
    for line in requests:
        _send(answers, worker.answer(json.loads(line)))


def _own_protocol_streams() -> tuple[IO[str], IO[str]]:
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(2, 1)
    return requests, answers


def _send(answers: IO[str], answer: dict[str, Any]) -> None:
    try:
        line = json.dumps(answer, allow_nan=False)
    except (TypeError, ValueError) as e:
        line = json.dumps({"error": f"its result cannot be sent: {_short(e)}"})
    answers.write(line + "\n")
    answers.flush()


class _Worker:
    def __init__(self) -> None:
        self.modules: dict[str, types.ModuleType] = {}
        self.expressions: dict[str, Expression] = {}

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            if "check" in request:
                module = self.module(request["module"], request["source"])
                return {"not_functions": [n for n in request["check"] if not _defined(module, n)]}
            if "expression" in request:
                text = request["expression"]
                if text not in self.expressions:
                    self.expressions[text] = compile_expression(text)
                return _result(self.expressions[text].evaluate(request["inputs"]))
            module = self.module(request["module"], request["source"])
            return _result(getattr(module, request["function"])(dict(request["inputs"])))
        except (Exception, SystemExit) as e:  # whatever plugin code raises is its failure
            why = e.reason if isinstance(e, EvaluationError) else f"{type(e).__name__}: {_short(e)}"
            return {"error": why}

    def module(self, name: str, source: str) -> types.ModuleType:
        """The plugin module of this source text, run once per worker."""
        key = hashlib.sha256(f"{name}\n{source}".encode()).hexdigest()
        if key not in self.modules:
            module = types.ModuleType(name)
            sys.modules[name] = module  # as an import would (dataclasses look it up)
            exec(compile(source, f"<{name}>", "exec"), module.__dict__)
            self.modules[key] = module
        return self.modules[key]


def _defined(module: types.ModuleType, name: str) -> bool:
    """A public function defined in the module itself (not one it imported)."""
    function = getattr(module, name, None)
    defined_here = getattr(function, "__module__", None) == module.__name__
    return not name.startswith("_") and callable(function) and defined_here


def _result(value: Any) -> dict[str, Any]:
    if value is not None and not isinstance(value, bool | int | float | str):
        return {"error": f"returned a {type(value).__name__}, not a number or a string"}
    if isinstance(value, str) and len(value) > 10_000:
        return {"error": "returned a string of more than 10000 characters"}
    return {"result": value}


def _short(e: BaseException) -> str:
    text = str(e)
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "..."


if __name__ == "__main__":
    main()
