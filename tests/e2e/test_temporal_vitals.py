"""The worked example of docs/temporal.md: a vital sign charted late makes the two time axes
disagree. as_of (what the system knew then) does not have it; valid_at (what had happened by
then, as known now) does."""

import asyncio
import datetime as dt

import httpx
from e2e_helpers import create_patient, create_practitioner, iso, now
from support import TenantFixture
from visit_helpers import ok, open_walk_in


async def test_as_of_and_valid_at_differ_for_a_vital_charted_late(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)  # t0: the visit opens
    measured = await _tick()  # t1: the nurse takes the pulse...
    probe = await _tick()  # t2: the moment the auditor asks about
    before_charting = await _tick()  # t3
    vital = {"heart_rate": 118, "occurred_at": iso(measured)}
    await ok(client, visit, "/vitals", vital, visit.doctor)  # t4: ...and charts it only now
    auditor = tenant.as_role("AUDITOR")
    path = f"/v1/streams/visit/{visit.id}"

    async def vitals(**at: dt.datetime) -> list[int]:
        params = {k: iso(v) for k, v in at.items()}
        r = await client.get(path, params=params, headers=auditor)
        assert r.status_code == 200, r.text
        return [v["heart_rate"] for v in r.json()["state"]["vitals"]]

    assert await vitals(as_of=before_charting) == []  # what the system knew at t3
    assert await vitals(valid_at=probe) == [118]  # what had happened by t2, as known now
    assert await vitals(as_of=before_charting, valid_at=probe) == []  # known at t3 about t2
    assert await vitals() == [118]
    opened_later = await client.get(
        path, params={"valid_at": iso(measured - dt.timedelta(hours=1))}, headers=auditor
    )
    assert opened_later.status_code == 404  # the visit itself had not happened yet


async def _tick() -> dt.datetime:
    await asyncio.sleep(0.05)
    moment = now()
    await asyncio.sleep(0.05)
    return moment


async def test_before_the_visit_began_it_did_not_exist_even_with_earlier_vitals(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """A visit opened late (triage before the desk entered it) begins at its `opened_at`:
    before that it did not exist (404, not an empty state without an id), and no reading can
    be timed before it (422), so no state ever has readings and no patient."""
    began = now() - dt.timedelta(hours=2)
    patient = await create_patient(client, tenant)
    doctor = await create_practitioner(client, tenant)
    body = {"patient_id": patient["id"], "practitioner_id": doctor["id"], "opened_at": iso(began)}
    r = await client.post("/v1/visits", json=body, headers=tenant.as_role("RECEPTIONIST"))
    assert r.status_code == 201, r.text
    path = f"/v1/visits/{r.json()['id']}"
    as_doctor = tenant.as_role("DOCTOR", actor=doctor["id"])
    too_early = {"heart_rate": 70, "occurred_at": iso(began - dt.timedelta(minutes=5))}
    refused = await client.post(f"{path}/vitals", json=too_early, headers=as_doctor)
    assert refused.status_code == 422, refused.text
    taken = began + dt.timedelta(minutes=10)
    pulse = {"heart_rate": 64, "occurred_at": iso(taken)}
    assert (await client.post(f"{path}/vitals", json=pulse, headers=as_doctor)).status_code == 200
    stream = f"/v1/streams/visit/{r.json()['id']}"
    auditor = tenant.as_role("AUDITOR")
    before = await client.get(
        stream, params={"valid_at": iso(began - dt.timedelta(minutes=1))}, headers=auditor
    )
    assert before.status_code == 404, before.text
    after = await client.get(stream, params={"valid_at": iso(taken)}, headers=auditor)
    assert after.status_code == 200, after.text
    assert [v["heart_rate"] for v in after.json()["state"]["vitals"]] == [64]
