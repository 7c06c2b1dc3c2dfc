"""`caretrail audit check-read-models`: each read model compared with a rebuild from the events.
Read-model rows are corrupted as the owner, in a database of its own."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from audit_helpers import app_of_its_own
from e2e_helpers import booked, create_patient, now
from support import JWT_SECRET, new_tenant

from backend.catalog import READ_MODELS as ALL
from backend.patients.projections import PATIENTS
from backend.scheduling.projections import APPOINTMENTS
from backend.settings import Settings, with_user
from backend.tenancy.projections import PRACTITIONERS
from projections.check import check_read_model

Isolated = tuple[httpx.AsyncClient, asyncpg.Connection, str]


@pytest.fixture(scope="module")
async def isolated(settings: Settings) -> AsyncIterator[Isolated]:
    async with app_of_its_own(settings) as resources:
        yield resources


async def _clinic_day(client: httpx.AsyncClient) -> dict[str, str]:
    """A patient and a booked appointment (with its own patient and practitioner), projected."""
    tenant = await new_tenant(client)
    patient = await create_patient(client, tenant, given_name="Mary", family_name="Godwin")
    appointment = await booked(client, tenant, now() + dt.timedelta(days=1), confirm=True)
    r = await client.get(
        f"/v1/appointments/{appointment['id']}",
        params={"min_position": appointment["position"]},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert r.status_code == 200, r.text
    return {"patient": patient["id"], "appointment": appointment["id"]}


async def test_untouched_read_models_match_their_rebuild(isolated: Isolated) -> None:
    client, owner, dsn = isolated
    await _clinic_day(client)
    for projection in ALL:
        comparison = await check_read_model(dsn, with_user(dsn, "caretrail_projector"), projection)
        assert comparison.differences == [], projection.name
    assert comparison.checkpoint.position > 0
    leftovers = await owner.fetchval(
        "SELECT count(*) FROM pg_tables WHERE tablename LIKE '%\\_\\_check'"
    )
    assert leftovers == 0


async def test_a_changed_a_missing_and_an_invented_row_are_reported(isolated: Isolated) -> None:
    client, owner, dsn = isolated
    day = await _clinic_day(client)
    invented = uuid.uuid4()
    await owner.execute(
        "UPDATE rm_patients SET family_name = 'Forged' WHERE patient_id = $1", day["patient"]
    )
    await owner.execute("DELETE FROM rm_appointments WHERE appointment_id = $1", day["appointment"])
    await owner.execute(
        "INSERT INTO rm_practitioners (tenant_id, practitioner_id, name, version)"
        " SELECT tenant_id, $1, 'Dr. Nobody', 1 FROM rm_practitioners LIMIT 1",
        invented,
    )
    projector = with_user(dsn, "caretrail_projector")

    patients = (await check_read_model(dsn, projector, PATIENTS)).differences
    assert [(d.key["patient_id"], d.columns) for d in patients] == [
        (day["patient"], ["family_name"])
    ]
    assert patients[0].live is not None and patients[0].rebuilt is not None
    assert (patients[0].live["family_name"], patients[0].rebuilt["family_name"]) == (
        "Forged",
        "Godwin",
    )
    appointments = (await check_read_model(dsn, projector, APPOINTMENTS)).differences
    assert [(d.key["appointment_id"], d.live) for d in appointments] == [(day["appointment"], None)]
    practitioners = (await check_read_model(dsn, projector, PRACTITIONERS)).differences
    assert [(d.key["practitioner_id"], d.rebuilt) for d in practitioners] == [(str(invented), None)]

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        "audit",
        "check-read-models",
        "--only",
        "patients",
        "practitioners",
        env={
            **os.environ,
            "DATABASE_URL": dsn,
            "CARETRAIL_JWT_SECRET": JWT_SECRET,
            "CARETRAIL_ENV": "test",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    report = stdout.decode()
    assert process.returncode == 1, stderr.decode()
    assert (
        f"patient_id={day['patient']} differs: family_name: 'Forged' (events say 'Godwin')"
        in report
    )
    assert f"practitioner_id={invented} is in the read model but no event makes it" in report
