"""An altered sealed field is flagged, never fatal: it reads as "[unreadable]" in the history, in
past states, in read models and in the export, which goes on past it, and verify names it.

The owner alters rows as only the owner can (immutability trigger off), in a database of its
own so that no other test sees the damage.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from audit_helpers import ALTER_CIPHERTEXT, app_of_its_own, tamper
from e2e_helpers import create_patient, iso, now
from support import JWT_SECRET, TenantFixture, new_tenant

from backend.patients.projections import PATIENTS
from backend.settings import Settings, with_user
from projections.rebuild import rebuild

Isolated = tuple[httpx.AsyncClient, asyncpg.Connection, str]
# The same, with the stream's hashes recomputed (what an owner covering their tracks does).
REHASH = """
DO $$
DECLARE r record; prev bytea;
BEGIN
  FOR r IN SELECT * FROM events WHERE stream_id = '{stream}' ORDER BY version LOOP
    prev := event_hash(prev, r.event_id, r.tenant_id, r.stream_type, r.stream_id, r.version,
                       r.event_type, r.schema_version, r.data, r.metadata, r.occurred_at,
                       r.recorded_at);
    UPDATE events SET hash = prev WHERE position = r.position;
  END LOOP;
END $$
"""


@pytest.fixture(scope="module")
async def isolated(settings: Settings) -> AsyncIterator[Isolated]:
    async with app_of_its_own(settings) as resources:
        yield resources


@pytest.fixture
async def clinic(isolated: Isolated) -> TenantFixture:
    return await new_tenant(isolated[0])


async def _patient_with_a_change(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    patient = await create_patient(client, tenant, given_name="Mary", family_name="Godwin")
    r = await client.patch(
        f"/v1/patients/{patient['id']}",
        json={"phone": "+44 20 7946 0018"},
        headers=tenant.as_role("NURSE"),
    )
    assert r.status_code == 200, r.text
    return str(patient["id"])


async def _get(client: httpx.AsyncClient, tenant: TenantFixture, path: str, **params: Any) -> Any:
    r = await client.get(path, params=params, headers=tenant.as_role("AUDITOR"))
    assert r.status_code == 200, r.text
    return r.json()


async def test_an_altered_ciphertext_reads_as_unreadable_and_is_flagged(
    isolated: Isolated, clinic: TenantFixture
) -> None:
    client, owner, _ = isolated
    start = now()
    altered = await _patient_with_a_change(client, clinic)
    intact = await create_patient(client, clinic, given_name="Percy")
    await tamper(owner, ALTER_CIPHERTEXT, altered)

    stream = f"/v1/streams/patient/{altered}"
    state = await _get(client, clinic, stream, as_of=iso(now()))
    assert (state["version"], state["state"]["given_name"]) == (2, "[unreadable]")
    assert state["state"]["birth_date"] is None
    assert state["state"]["phone"] == "+442079460018"  # the later event still opens
    assert [u["version"] for u in state["unreadable"]] == [1]

    history = (await _get(client, clinic, f"{stream}/events"))["events"]
    assert [(e["version"], e["unreadable"]) for e in history] == [(1, True), (2, False)]
    assert history[0]["data"]["family_name"] == "[unreadable]"

    r = await client.get(
        "/v1/audit/export", params={"from": iso(start)}, headers=clinic.as_role("AUDITOR")
    )
    assert r.status_code == 200, r.text
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert [(e["stream_id"], e["version"], e["unreadable"]) for e in lines] == [
        (altered, 1, True),
        (altered, 2, False),
        (intact["id"], 1, False),
    ]
    assert lines[0]["data"]["given_name"] == "[unreadable]"
    assert lines[2]["data"]["given_name"] == "Percy"

    verified = await _get(client, clinic, f"{stream}/verify")
    assert verified["valid"] is False
    assert verified["first_broken"]["reason"] == "hash_mismatch"
    assert [u["version"] for u in verified["unreadable"]] == [1]


async def test_verify_names_it_even_when_the_hashes_were_recomputed(
    isolated: Isolated, clinic: TenantFixture
) -> None:
    client, owner, _ = isolated
    altered = await _patient_with_a_change(client, clinic)
    await tamper(owner, ALTER_CIPHERTEXT, altered)
    await tamper(owner, REHASH.replace("{stream}", altered))
    verified = await _get(client, clinic, f"/v1/streams/patient/{altered}/verify")
    assert verified["first_broken"] is None  # the chain alone no longer shows it
    assert verified["valid"] is False
    assert [u["version"] for u in verified["unreadable"]] == [1]


async def test_an_altered_or_missing_key_makes_the_patient_unreadable_not_erased(
    isolated: Isolated, clinic: TenantFixture
) -> None:
    client, owner, _ = isolated
    altered, removed = [await _patient_with_a_change(client, clinic) for _ in range(2)]
    await owner.execute(
        "UPDATE subject_keys SET wrapped_key = overlay(wrapped_key PLACING '\\x00' FROM 20)"
        " WHERE subject_id = $1",
        altered,
    )
    await owner.execute("DELETE FROM subject_keys WHERE subject_id = $1", removed)
    for patient in (altered, removed):
        history = (await _get(client, clinic, f"/v1/streams/patient/{patient}/events"))["events"]
        assert [e["unreadable"] for e in history] == [True, True]
        assert history[0]["data"]["given_name"] == "[unreadable]"
        verified = await _get(client, clinic, f"/v1/streams/patient/{patient}/verify")
        assert verified["first_broken"] is None and verified["valid"] is False


async def test_a_rebuilt_read_model_reads_unreadable_instead_of_parking(
    isolated: Isolated, clinic: TenantFixture
) -> None:
    client, owner, dsn = isolated
    altered = await _patient_with_a_change(client, clinic)
    await tamper(owner, ALTER_CIPHERTEXT, altered)
    await rebuild(dsn, with_user(dsn, "caretrail_projector"), PATIENTS, lambda *_: None)
    r = await client.get(f"/v1/patients/{altered}", headers=clinic.as_role("NURSE"))
    assert r.status_code == 200, r.text
    assert (r.json()["given_name"], r.json()["phone"]) == ("[unreadable]", "+442079460018")
    parked = await owner.fetchval(
        "SELECT count(*) FROM projection_checkpoints WHERE state = 'parked'"
    )
    assert parked == 0


async def test_the_cli_export_goes_on_and_names_the_unreadable_events(
    isolated: Isolated, clinic: TenantFixture, tmp_path: Path
) -> None:
    client, owner, dsn = isolated
    start = now()
    altered = await _patient_with_a_change(client, clinic)
    await tamper(owner, ALTER_CIPHERTEXT, altered)
    event_id = await owner.fetchval(
        "SELECT event_id FROM events WHERE stream_id = $1 AND version = 1", altered
    )
    out = tmp_path / "audit.ndjson"
    env = {**os.environ, "DATABASE_URL": dsn, "CARETRAIL_JWT_SECRET": JWT_SECRET}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        "audit",
        "export",
        "--tenant",
        str(clinic.id),
        "--from",
        iso(start),
        "--out",
        str(out),
        env={**env, "CARETRAIL_ENV": "test"},
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    assert len(out.read_text().splitlines()) == 2
    assert "1 events with sealed fields that no longer open" in stderr.decode()
    assert str(event_id) in stderr.decode()


async def test_an_erased_patient_reads_redacted_not_unreadable(
    isolated: Isolated, clinic: TenantFixture
) -> None:
    """Erasure destroys the key on purpose: nothing is flagged and the stream stays valid."""
    client, _, _ = isolated
    patient = await _patient_with_a_change(client, clinic)
    r = await client.post(
        f"/v1/patients/{patient}/erase",
        json={"reason": "patient's request"},
        headers=clinic.as_role("CLINIC_ADMIN"),
    )
    assert r.status_code == 200, r.text
    history = (await _get(client, clinic, f"/v1/streams/patient/{patient}/events"))["events"]
    assert history[0]["data"]["given_name"] == "[erased]"
    assert not any(e["unreadable"] for e in history)
    verified = await _get(client, clinic, f"/v1/streams/patient/{patient}/verify")
    assert (verified["valid"], verified["unreadable"]) == (True, [])
