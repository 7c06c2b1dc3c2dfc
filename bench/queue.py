"""The live queue's fan-out: a check-in through one `caretrail serve` (`POST
/v1/appointments/{id}/check-in`, answered once committed) and the time until an SSE client of
a second `caretrail serve` on the same database and Redis receives it (`GET /v1/queue/stream`),
measured from the check-in's answer; beside it, the check-in's own commit latency (its round
trip). One check-in at a time, each to a fresh appointment; p50 and p99 of each."""

from __future__ import annotations

import datetime as dt
import json
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from backend.auth.tokens import issue_token
from bench.common import report
from bench.http import SECRET, serve


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def fan_out_latency(owner: str, check_ins: int) -> None:
    async with serve(owner) as one, serve(owner) as other:
        admin = issue_token(SECRET, actor="bench-admin", roles=["PLATFORM_ADMIN"], tenant_id=None)
        a = httpx.AsyncClient(base_url=f"http://127.0.0.1:{one.port}", timeout=30)
        b = httpx.AsyncClient(base_url=f"http://127.0.0.1:{other.port}", timeout=None)
        async with a, b:
            r = await a.post(
                "/v1/tenants",
                json={"name": "Bench queue", "slug": f"queue-{uuid.uuid4().hex[:8]}"},
                headers={"Authorization": f"Bearer {admin}"},
            )
            tenant = uuid.UUID(r.raise_for_status().json()["id"])
            desk = {
                "Authorization": "Bearer "
                + issue_token(SECRET, actor="bench-desk", roles=["RECEPTIONIST"], tenant_id=tenant)
            }
            boss = {
                "Authorization": "Bearer "
                + issue_token(SECRET, actor="bench-admin", roles=["CLINIC_ADMIN"], tenant_id=tenant)
            }
            appointments = await _confirmed(a, desk, boss, check_ins)
            commits, fan_outs = [], []
            async with b.stream("GET", "/v1/queue/stream", headers=desk) as response:
                lines = response.aiter_lines()
                await _next_message(lines)  # the snapshot
                for appointment_id in appointments:
                    sent = time.perf_counter()
                    r = await a.post(f"/v1/appointments/{appointment_id}/check-in", headers=desk)
                    answered = time.perf_counter()
                    r.raise_for_status()
                    while (await _next_message(lines))["change"][
                        "appointment_id"
                    ] != appointment_id:
                        pass
                    fan_outs.append((time.perf_counter() - answered) * 1000)
                    commits.append((answered - sent) * 1000)
    commit_p50 = statistics.median(commits)
    print(f"# queue: {check_ins} check-ins, one at a time", flush=True)
    report("queue_checkin_commit_p50", commit_p50, "ms", commit_p50)
    report("queue_checkin_commit_p99", _percentile(commits, 0.99), "ms", commit_p50)
    report("queue_fan_out_p50", statistics.median(fan_outs), "ms", commit_p50)
    report("queue_fan_out_p99", _percentile(fan_outs, 0.99), "ms", commit_p50)


async def _confirmed(
    client: httpx.AsyncClient, desk: dict[str, str], boss: dict[str, str], count: int
) -> list[str]:
    """`count` confirmed appointments starting in a few minutes, each with its practitioner."""
    start = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    ids = []
    for i in range(count):
        doc = (
            await client.post("/v1/practitioners", json={"name": f"Dr {i}"}, headers=boss)
        ).json()
        body = {
            "given_name": f"Q{i}",
            "family_name": "Bench",
            "birth_date": "1980-01-01",
            "sex": "unknown",
        }
        patient = (await client.post("/v1/patients", json=body, headers=desk)).json()
        booking = {
            "patient_id": patient["id"],
            "practitioner_id": doc["id"],
            "start": start.isoformat(),
            "end": (start + dt.timedelta(minutes=15)).isoformat(),
        }
        r = await client.post("/v1/appointments", json=booking, headers=desk)
        appointment_id = r.raise_for_status().json()["id"]
        await client.post(f"/v1/appointments/{appointment_id}/confirm", headers=desk)
        ids.append(appointment_id)
    return ids


async def _next_message(lines: AsyncIterator[str]) -> dict[str, Any]:
    data: dict[str, Any] | None = None
    async for line in lines:
        if line.startswith("data: "):
            data = json.loads(line.removeprefix("data: "))
        elif line == "" and data is not None:
            return data
    raise RuntimeError("the stream ended")
