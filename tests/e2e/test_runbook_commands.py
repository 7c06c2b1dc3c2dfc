"""The parked-projection runbook's commands (docs/operations.md), as an operator types them:
`caretrail projections status`, `resume`, `rebuild`, against a database whose projections run."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx
from support import JWT_SECRET, new_tenant


async def _caretrail(owner_dsn: str, *args: str) -> tuple[int | None, str]:
    env = {
        **os.environ,
        "DATABASE_URL": owner_dsn,
        "CARETRAIL_JWT_SECRET": JWT_SECRET,
        "CARETRAIL_ENV": "test",
    }
    env.pop("APP_DATABASE_URL", None)
    env.pop("PROJECTOR_DATABASE_URL", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(proc.communicate(), 300)
    return proc.returncode, output.decode()


async def test_status_resume_and_rebuild_as_the_runbook_runs_them(
    client: httpx.AsyncClient, owner_dsn: str
) -> None:
    tenant = await new_tenant(client)
    staff = tenant.as_role("RECEPTIONIST")
    patient = {"given_name": "Ada", "family_name": "Runbook", "birth_date": "1970-01-01"}
    created = await client.post("/v1/patients", json={**patient, "sex": "female"}, headers=staff)
    assert created.status_code == 201, created.text

    code, output = await _caretrail(owner_dsn, "projections", "status")
    assert code == 0, output
    assert "patients" in output

    code, output = await _caretrail(owner_dsn, "projections", "resume", "patients")
    assert (code, output.strip().splitlines()[-1]) == (0, "patients: running"), output

    code, output = await _caretrail(owner_dsn, "projections", "rebuild", "patients")
    assert code == 0, output
    read = await client.get(
        f"/v1/patients/{created.json()['id']}",
        params={"min_position": created.json()["position"]},
        headers=staff,
    )
    assert read.status_code == 200, read.text
    assert read.json()["family_name"] == "Runbook"
