"""The auditor's endpoints: chain verification, history filters, export."""

import json

import httpx
from e2e_helpers import assert_problem, create_patient, iso, now, when
from support import TenantFixture


async def test_a_patient_stream_verifies(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    patient = await create_patient(client, tenant)
    r = await client.patch(
        f"/v1/patients/{patient['id']}",
        json={"phone": "+49 30 555 0100"},
        headers=tenant.as_role("NURSE"),
    )
    assert r.status_code == 200, r.text
    r = await client.get(
        f"/v1/streams/patient/{patient['id']}/verify", headers=tenant.as_role("AUDITOR")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["events"], body["valid"], body["first_broken"]) == (2, True, None)
    assert len(body["head_hash"]) == 64


async def test_verify_is_for_auditors_and_admins_of_the_tenant(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    path = f"/v1/streams/patient/{patient['id']}/verify"
    assert_problem(await client.get(path, headers=tenant.as_role("NURSE")), 403, "FORBIDDEN")
    other = await client.get(path, headers=other_tenant.as_role("AUDITOR"))
    assert_problem(other, 404, "NOT_FOUND")
    unknown = await client.get(
        f"/v1/streams/spaceship/{patient['id']}/verify", headers=tenant.as_role("AUDITOR")
    )
    assert_problem(unknown, 404, "NOT_FOUND")


async def test_history_filters_by_type_and_time(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    between = now()
    for phone in ("+49 30 555 0101", "+49 30 555 0102"):
        r = await client.patch(
            f"/v1/patients/{patient['id']}",
            json={"phone": phone},
            headers=tenant.as_role("NURSE", actor="nurse-7"),
        )
        assert r.status_code == 200, r.text
    path = f"/v1/streams/patient/{patient['id']}/events"
    auditor = tenant.as_role("AUDITOR")
    everything = (await client.get(path, headers=auditor)).json()
    assert [e["type"] for e in everything["events"]] == [
        "PatientRegistered",
        "PatientDetailsChanged",
        "PatientDetailsChanged",
    ]
    changes = (
        await client.get(path, params={"event_type": "PatientDetailsChanged"}, headers=auditor)
    ).json()["events"]
    assert [(e["version"], e["actor"], e["roles"]) for e in changes] == [
        (2, "nurse-7", ["NURSE"]),
        (3, "nurse-7", ["NURSE"]),
    ]
    early = (await client.get(path, params={"recorded_to": iso(between)}, headers=auditor)).json()
    assert [e["version"] for e in early["events"]] == [1]
    late = (await client.get(path, params={"occurred_from": iso(between)}, headers=auditor)).json()
    assert [e["version"] for e in late["events"]] == [2, 3]
    entry = late["events"][0]
    assert entry.keys() >= {"recorded_at", "occurred_at", "correlation_id", "causation_id"}


async def test_export_streams_the_tenants_events_of_a_period_as_ndjson(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    start = now()
    first = await create_patient(client, tenant)
    await create_patient(client, other_tenant)
    second = await create_patient(client, tenant)
    r = await client.get(
        "/v1/audit/export", params={"from": iso(start)}, headers=tenant.as_role("AUDITOR")
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert [(e["stream_id"], e["type"]) for e in lines] == [
        (first["id"], "PatientRegistered"),
        (second["id"], "PatientRegistered"),
    ]
    assert all(len(e["hash"]) == 64 and e["metadata"]["actor"] for e in lines)
    history = await client.get(
        f"/v1/streams/patient/{first['id']}/events", headers=tenant.as_role("AUDITOR")
    )
    entry = history.json()["events"][0]
    assert lines[0].keys() == entry.keys() | {
        "stream_type",
        "stream_id",
        "event_id",
        "metadata",
        "hash",
    }
    for field in ("actor", "roles", "request_id", "correlation_id", "causation_id", "plugins"):
        assert lines[0][field] == entry[field], field  # the history's fields, at the top level
    assert (lines[0]["actor"], lines[0]["roles"]) == ("tester", ["RECEPTIONIST"])
    assert when(r.headers["x-export-from"]) == start
    assert when(r.headers["x-export-to"]) >= when(lines[-1]["recorded_at"])


async def test_export_refuses_an_empty_period_and_other_roles(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    moment = iso(now())
    r = await client.get(
        "/v1/audit/export",
        params={"from": moment, "to": moment},
        headers=tenant.as_role("AUDITOR"),
    )
    assert_problem(r, 422, "VALIDATION_ERROR")
    r = await client.get(
        "/v1/audit/export", params={"from": moment}, headers=tenant.as_role("CLINIC_ADMIN")
    )
    assert_problem(r, 403, "FORBIDDEN")
