"""`caretrail audit export` as its own process: the same NDJSON as the endpoint, into a file,
with its progress and summary on stderr, recorded in the access log with the reason given."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import httpx
from e2e_helpers import create_patient, iso, now
from support import JWT_SECRET, TenantFixture


async def test_the_cli_exports_a_tenants_period_to_a_file(
    client: httpx.AsyncClient, tenant: TenantFixture, owner_dsn: str, tmp_path: Path
) -> None:
    start = now()
    patients = [await create_patient(client, tenant) for _ in range(3)]
    out = tmp_path / "audit.ndjson"
    env = {
        **os.environ,
        "DATABASE_URL": owner_dsn,
        "CARETRAIL_JWT_SECRET": JWT_SECRET,
        "CARETRAIL_ENV": "test",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        "audit",
        "export",
        "--tenant",
        str(tenant.id),
        "--from",
        iso(start),
        "--out",
        str(out),
        "--reason",
        "  quarterly   review ",
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["stream_id"] for e in lines] == [p["id"] for p in patients]
    assert lines[0]["data"]["given_name"] == "Ada"  # personal fields opened with the key
    assert "exported 3 events" in stderr.decode()
    assert "audit export" in stderr.decode()  # the progress bar
    r = await client.get(
        "/v1/audit/access", params={"from": iso(start)}, headers=tenant.as_role("AUDITOR")
    )
    assert r.status_code == 200, r.text
    (row,) = [e for e in r.json()["items"] if e["method"] == "CLI"]
    assert row["actor"].startswith("cli:") and row["roles"] == ["OPERATOR"]
    assert (row["route"], row["reason"], row["patient_ids"]) == (
        "caretrail audit export",
        "quarterly review",
        [],
    )
    assert row["query"]["out"] == str(out) and row["query"]["from"] == iso(start)


async def test_the_cli_refuses_a_time_without_offset(owner_dsn: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        "audit",
        "export",
        "--tenant",
        "00000000-0000-4000-8000-000000000001",
        "--from",
        "2026-01-01T00:00:00",
        env={**os.environ, "DATABASE_URL": owner_dsn, "CARETRAIL_ENV": "dev"},
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert "has no offset" in stderr.decode()
