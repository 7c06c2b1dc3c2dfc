"""A slow calculator slows no one else: calculators run in worker processes, outside the
command's transaction, under a time budget; over it the command is a 422 naming the
calculator, and a calculator over budget three times in a row is parked until a reload."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from e2e_helpers import assert_problem
from specialty_helpers import enable, own_plugins, register, write_plugin
from support import TenantFixture, bearer

from backend.specialties.registry import PluginRegistry

MANIFEST = """apiVersion: caretrail.io/v1
kind: SpecialtyPlugin
metadata: {name: slowlab, version: 1.0.0, displayName: Slow laboratory}
spec:
  fields:
    - {name: sleep_s, type: number, min: 0, max: 30, applies_to: [patient]}
    - {name: spin, type: boolean, applies_to: [patient]}
  calculators:
    - {id: slow, name: Slow, version: "1", inputs: [sleep_s], function: slow,
       output: {type: number}}
    - {id: stuck, name: Stuck, version: "1", inputs: [spin], function: stuck,
       output: {type: integer}}
"""
FUNCTIONS = """import time


def slow(inputs):
    time.sleep(inputs["sleep_s"])
    return inputs["sleep_s"]


def stuck(inputs):
    while True:
        pass
"""


async def _while_polling(
    client: httpx.AsyncClient, work: Awaitable[httpx.Response]
) -> tuple[httpx.Response, list[float]]:
    """`work`'s response, and the latency of a GET /health due every 20 ms meanwhile: from
    when it was due to its answer, so that a stalled event loop counts in full."""
    task = asyncio.ensure_future(work)
    latencies: list[float] = []
    while not task.done():
        due = time.monotonic() + 0.02
        await asyncio.sleep(0.02)
        assert (await client.get("/health")).status_code == 200
        latencies.append(time.monotonic() - due)
    return await task, latencies


class _IdleTransactions(threading.Thread):
    """Watches, from its own thread and connection, for sessions of the runtime role in this
    database that sit idle inside a transaction; records the longest such wait seen."""

    def __init__(self, owner_dsn: str) -> None:
        super().__init__(daemon=True)
        self.owner_dsn = owner_dsn
        self.longest = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        asyncio.run(self._watch())

    async def _watch(self) -> None:
        conn = await asyncpg.connect(self.owner_dsn)
        try:
            while not self.stop.is_set():
                waited = await conn.fetchval(
                    "SELECT coalesce(max(extract(epoch FROM now() - state_change)), 0)"
                    " FROM pg_stat_activity WHERE usename = 'caretrail_app'"
                    " AND datname = current_database() AND state = 'idle in transaction'"
                )
                self.longest = max(self.longest, float(waited))
                await asyncio.sleep(0.02)
        finally:
            await conn.close()


@asynccontextmanager
async def _slowlab(
    client: httpx.AsyncClient, tenant: TenantFixture, directory: Path, budget: float
) -> AsyncIterator[PluginRegistry]:
    """The app serves the `slowlab` plugin to the tenant, its calculators under `budget`."""
    write_plugin(directory, "slowlab", MANIFEST, FUNCTIONS)
    async with own_plugins(directory, budget=budget) as plugins:
        assert (await enable(client, tenant, "slowlab")).status_code == 200
        yield plugins


async def test_a_slow_calculator_holds_no_transaction_and_slows_no_other_request(
    client: httpx.AsyncClient, tenant: TenantFixture, tmp_path: Path, owner_dsn: str
) -> None:
    watcher = _IdleTransactions(owner_dsn)
    async with _slowlab(client, tenant, tmp_path, budget=5):
        watcher.start()
        try:
            work = register(client, tenant, specialty_data={"slowlab": {"sleep_s": 1.5}})
            r, latencies = await _while_polling(client, work)
        finally:
            watcher.stop.set()
            await asyncio.to_thread(watcher.join)
    assert r.status_code == 201, r.text
    assert r.json()["calculations"]["slowlab.slow"]["result"] == "1.5"
    assert len(latencies) >= 10, "the API answered all along"
    assert max(latencies) < 0.5, sorted(latencies)[-5:]
    assert watcher.longest < 0.5, f"a transaction stayed open {watcher.longest:.2f} s"


async def test_a_calculator_over_budget_is_a_422_and_is_parked_after_three_times(
    client: httpx.AsyncClient, tenant: TenantFixture, tmp_path: Path
) -> None:
    stuck = {"slowlab": {"spin": True}}
    async with _slowlab(client, tenant, tmp_path, budget=0.5) as plugins:
        for _ in range(3):
            started = time.monotonic()
            r, latencies = await _while_polling(
                client, register(client, tenant, specialty_data=stuck)
            )
            body = assert_problem(r, 422, "CALCULATION_FAILED")
            assert body["errors"] == [
                {
                    "field": "calculator.slowlab.stuck",
                    "message": "slowlab.stuck 1 gave no result:"
                    " took longer than its time budget of 0.5 s",
                }
            ]
            assert time.monotonic() - started < 3
            assert max(latencies) < 0.5, sorted(latencies)[-5:]
        started = time.monotonic()
        r = await register(client, tenant, specialty_data=stuck)
        assert time.monotonic() - started < 0.4, "a parked calculator does not start"
        message = assert_problem(r, 422, "CALCULATION_FAILED")["errors"][0]["message"]
        assert "parked after 3 runs over its time budget" in message
        r = await register(client, tenant, specialty_data={"slowlab": {"sleep_s": 0}})
        assert r.status_code == 201, "the killed workers were replaced"
        rows = await _specialties(client, tenant)
        assert rows["slowlab"]["parked_calculators"] == ["stuck"]
        r = await client.post("/v1/specialties/reload", headers=bearer(["PLATFORM_ADMIN"]))
        assert r.status_code == 200, r.text
        assert (await _specialties(client, tenant))["slowlab"]["parked_calculators"] == []
        assert plugins.workers.parked("slowlab", "1.0.0") == []


async def _specialties(client: httpx.AsyncClient, tenant: TenantFixture) -> dict[str, Any]:
    r = await client.get("/v1/specialties", headers=tenant.as_role("CLINIC_ADMIN"))
    assert r.status_code == 200, r.text
    return {row["name"]: row for row in r.json()["items"]}
