"""`caretrail projections quarantine NAME POSITION --reason --by` as an operator runs it: the
quarantine is recorded with who and why and shows in status, /v1/projections and /metrics;
what cannot be quarantined is refused with the reason."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx
from e2e_helpers import create_patient
from support import JWT_SECRET, METRICS_TOKEN, TenantFixture, bearer


async def _cli(owner_dsn: str, *args: str) -> tuple[int, str]:
    env = {**os.environ, "DATABASE_URL": owner_dsn, "CARETRAIL_JWT_SECRET": JWT_SECRET}
    env["CARETRAIL_ENV"] = "test"
    for name in ("APP_DATABASE_URL", "PROJECTOR_DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        env.pop(name, None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        "projections",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode is not None
    return proc.returncode, output.decode()


async def test_a_quarantine_is_recorded_and_stays_in_status(
    client: httpx.AsyncClient, tenant: TenantFixture, owner_dsn: str
) -> None:
    patient = await create_patient(client, tenant)
    position = str(patient["position"])
    code, output = await _cli(
        owner_dsn, "quarantine", "patients", position, "--reason", "test import", "--by", "ana"
    )
    assert code == 0, output
    assert f"patients: event {position} (PatientRegistered) quarantined by ana" in output
    assert "was not parked on it" in output  # applied long ago: nothing to resume

    code, output = await _cli(owner_dsn, "status")
    assert code == 0, output
    assert f"quarantined {position} (PatientRegistered) by ana at" in output

    r = await client.get("/v1/projections", headers=bearer(["PLATFORM_ADMIN"]))
    (patients,) = [p for p in r.json()["projections"] if p["name"] == "patients"]
    assert {(q["position"], q["reason"], q["quarantined_by"]) for q in patients["quarantined"]} >= {
        (patient["position"], "test import", "ana")
    }
    metrics = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    (line,) = [
        line
        for line in metrics.text.splitlines()
        if line.startswith('caretrail_projection_quarantined_events{projection="patients"}')
    ]
    assert float(line.split()[-1]) >= 1


async def test_what_cannot_be_quarantined_is_refused(owner_dsn: str) -> None:
    code, output = await _cli(
        owner_dsn, "quarantine", "patients", str(2**62), "--reason", "x", "--by", "ana"
    )
    assert (code, output.strip()) == (1, f"quarantine refused: no event at position {2**62}")
    code, output = await _cli(
        owner_dsn, "quarantine", "patients", "1", "--reason", " ", "--by", "ana"
    )
    assert code == 1
    assert "a quarantine needs a reason and the operator's name" in output
