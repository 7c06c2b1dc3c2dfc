"""Schemathesis against the real server, every check on, on a bounded budget: the OpenAPI
document tells the truth about what the API accepts, refuses and answers.

The server is `caretrail serve` on this session's database; the fuzzer acts as a member of a
hospital holding every role (tests/fuzz/schemathesis.toml says which refusals a schema-valid
request may get, tests/fuzz/schemathesis_hooks.py adds the check that field validation never
refuses one). Every failure it ever found is a regression test in test_openapi_truth.py.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import httpx
from infra import free_port
from support import FAKEPAY_SECRET, JWT_SECRET, bearer, new_tenant

from backend.auth.principal import Role

FUZZ = Path(__file__).parent.parent / "fuzz"
MAX_EXAMPLES = os.environ.get("CARETRAIL_FUZZ_EXAMPLES", "3")
SEED = os.environ.get("CARETRAIL_FUZZ_SEED", "1")


async def _serve(owner_dsn: str, port: int) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "DATABASE_URL": owner_dsn,
        "CARETRAIL_JWT_SECRET": JWT_SECRET,
        "CARETRAIL_ENV": "test",
        "CARETRAIL_PAYMENT_WEBHOOK_SECRETS": f'{{"fakepay": "{FAKEPAY_SECRET}"}}',
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }
    env.pop("APP_DATABASE_URL", None)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        "serve",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _fuzz(base: str, authorization: str) -> tuple[int, str]:
    st = Path(sys.executable).with_name("st")
    process = await asyncio.create_subprocess_exec(
        str(st),
        "--config-file",
        str(FUZZ / "schemathesis.toml"),
        "--no-color",
        "run",
        f"{base}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        MAX_EXAMPLES,
        "--seed",
        SEED,
        # One worker: with two threads, hypothesis parsing a lambda's source in each tripped
        # CPython 3.11's ast ("AST constructor recursion depth mismatch"), a Runtime Error of
        # the tool on whichever operation met it, not of the API.
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "-H",
        f"Authorization: {authorization}",
        env={**os.environ, "SCHEMATHESIS_HOOKS": "schemathesis_hooks", "PYTHONPATH": str(FUZZ)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 900)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_schemathesis_finds_nothing(owner_dsn: str) -> None:
    port = free_port()
    server = await _serve(owner_dsn, port)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as client:
            for _ in range(300):
                try:
                    if (await client.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            hospital = await new_tenant(client, kind="hospital")
        everyone = bearer([r.value for r in Role], hospital.id, actor="fuzzer")
        code, report = await _fuzz(base, everyone["Authorization"])
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 20)
    summary = report[report.find("SUMMARY") :]
    print(summary)
    tested = re.search(r"Tested: (\d+)", summary)
    cases = re.search(r"(\d+) generated", summary)
    assert tested and cases, report[-3000:]
    print(f"SCHEMATHESIS operations={tested.group(1)} cases={cases.group(1)} exit={code}")
    assert code == 0, _problems(report)


def _problems(report: str) -> str:
    """The report's FAILURES and ERRORS sections first (a CI log shows only so much), then its
    end."""
    sections = [
        report[report.find(name) :][:8000] for name in ("FAILURES", "ERRORS") if name in report
    ]
    return "\n".join([*sections, report[-6000:]])
