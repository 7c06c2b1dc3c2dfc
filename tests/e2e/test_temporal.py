"""The auditor's view of a stream: by version, as of a recording time, valid at a clinical time."""

import asyncio
import datetime as dt
import uuid
from typing import Any

import httpx
from e2e_helpers import assert_problem, create_patient, iso, now, when
from support import TenantFixture

TICK = 0.05  # seconds between steps, so that their timestamps are clearly apart


async def _history(client: httpx.AsyncClient, tenant: TenantFixture) -> dict[str, Any]:
    """A patient registered, then renamed; with moments before, between and after."""
    before = now()
    await asyncio.sleep(TICK)
    patient = await create_patient(client, tenant, given_name="Mary", family_name="Godwin")
    await asyncio.sleep(TICK)
    between = now()
    await asyncio.sleep(TICK)
    r = await client.patch(
        f"/v1/patients/{patient['id']}",
        json={"family_name": "Shelley"},
        headers=tenant.as_role("DOCTOR", actor="dr-who"),
    )
    assert r.status_code == 200, r.text
    await asyncio.sleep(TICK)
    return {"id": patient["id"], "before": before, "between": between, "after": now()}


async def _state(
    client: httpx.AsyncClient, tenant: TenantFixture, stream_id: str, **params: Any
) -> httpx.Response:
    return await client.get(
        f"/v1/streams/patient/{stream_id}",
        params={k: iso(v) if isinstance(v, dt.datetime) else v for k, v in params.items()},
        headers=tenant.as_role("AUDITOR"),
    )


async def test_current_state(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    h = await _history(client, tenant)
    r = await _state(client, tenant, h["id"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["stream_type"], body["stream_id"], body["version"]) == ("patient", h["id"], 2)
    assert (body["state"]["given_name"], body["state"]["family_name"]) == ("Mary", "Shelley")


async def test_at_a_version(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    h = await _history(client, tenant)
    body = (await _state(client, tenant, h["id"], version=1)).json()
    assert (body["version"], body["state"]["family_name"]) == (1, "Godwin")
    assert (await _state(client, tenant, h["id"], version=2)).json()["version"] == 2
    assert (await _state(client, tenant, h["id"], version=0)).status_code == 422


async def test_a_version_the_stream_does_not_have_is_404(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """Not the last version under another number: the state at version 99 never existed."""
    h = await _history(client, tenant)
    body = assert_problem(await _state(client, tenant, h["id"], version=99), 404, "NOT_FOUND")
    assert "has no version 99 (last: 2)" in body["detail"]
    # Nor one recorded only after the moment asked about.
    r = await _state(client, tenant, h["id"], version=2, as_of=h["between"])
    assert_problem(r, 404, "NOT_FOUND")
    assert (await _state(client, tenant, h["id"], version=1, as_of=h["between"])).status_code == 200


async def test_as_of_a_recording_time(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    h = await _history(client, tenant)
    old = (await _state(client, tenant, h["id"], as_of=h["between"])).json()
    assert (old["version"], old["state"]["family_name"]) == (1, "Godwin")
    new = (await _state(client, tenant, h["id"], as_of=h["after"])).json()
    assert (new["version"], new["state"]["family_name"]) == (2, "Shelley")
    r = await _state(client, tenant, h["id"], as_of=h["before"])
    assert_problem(r, 404, "NOT_FOUND")


async def test_valid_at_a_clinical_time(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    h = await _history(client, tenant)
    old = (await _state(client, tenant, h["id"], valid_at=h["between"])).json()
    assert (old["version"], old["state"]["family_name"]) == (1, "Godwin")
    new = (await _state(client, tenant, h["id"], valid_at=h["after"])).json()
    assert new["version"] == 2
    assert_problem(await _state(client, tenant, h["id"], valid_at=h["before"]), 404, "NOT_FOUND")


async def test_bitemporal(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    h = await _history(client, tenant)
    both = await _state(client, tenant, h["id"], as_of=h["after"], valid_at=h["between"])
    assert both.json()["version"] == 1
    both = await _state(client, tenant, h["id"], as_of=h["between"], valid_at=h["after"])
    assert both.json()["version"] == 1


async def test_times_need_an_offset(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    h = await _history(client, tenant)
    naive = h["after"].replace(tzinfo=None).isoformat()
    assert (await _state(client, tenant, h["id"], as_of=naive)).status_code == 422


async def test_events_in_version_order(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    h = await _history(client, tenant)
    r = await client.get(f"/v1/streams/patient/{h['id']}/events", headers=tenant.as_role("AUDITOR"))
    assert r.status_code == 200, r.text
    events = r.json()["events"]
    assert [e["version"] for e in events] == [1, 2]
    assert [e["type"] for e in events] == ["PatientRegistered", "PatientDetailsChanged"]
    assert [e["actor"] for e in events] == ["tester", "dr-who"]
    assert events[0]["position"] < events[1]["position"]
    assert events[0]["data"]["family_name"] == "Godwin"
    assert events[1]["data"]["changes"] == {"family_name": "Shelley"}
    for e in events:
        for moment in ("occurred_at", "recorded_at"):
            assert when(e[moment]).utcoffset() is not None
            assert h["before"] < when(e[moment]) < h["after"]
    assert when(events[0]["occurred_at"]) < h["between"] < when(events[1]["occurred_at"])


async def test_unknown_stream_type_and_id_are_404(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    h = await _history(client, tenant)
    auditor = tenant.as_role("AUDITOR")
    for url in (
        f"/v1/streams/spaceship/{h['id']}",
        f"/v1/streams/spaceship/{h['id']}/events",
        f"/v1/streams/patient/{uuid.uuid4()}",
        f"/v1/streams/patient/{uuid.uuid4()}/events",
    ):
        assert_problem(await client.get(url, headers=auditor), 404, "NOT_FOUND")


async def test_only_auditors_and_clinic_admins(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    h = await _history(client, tenant)
    url = f"/v1/streams/patient/{h['id']}"
    for role in ("AUDITOR", "CLINIC_ADMIN"):
        assert (await client.get(url, headers=tenant.as_role(role))).status_code == 200
    for role in ("RECEPTIONIST", "DOCTOR"):
        for suffix in ("", "/events"):
            r = await client.get(url + suffix, headers=tenant.as_role(role))
            assert_problem(r, 403, "FORBIDDEN")
