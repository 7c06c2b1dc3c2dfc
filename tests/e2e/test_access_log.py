"""Who read which patient: every read of a patient's records is an append-only row of the
access log, written in the read's transaction, queried by auditors by patient and by actor;
where the tenant requires it a doctor outside the patient's care breaks the glass with a
reason."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest
from e2e_helpers import assert_problem, create_patient, create_practitioner
from partner_helpers import make_key, with_key
from support import TenantFixture
from visit_helpers import ok, open_walk_in

from backend.auth.scopes import PATIENTS_READ


async def _log(
    client: httpx.AsyncClient, tenant: TenantFixture, **query: str
) -> list[dict[str, Any]]:
    r = await client.get("/v1/audit/access", params=query, headers=tenant.as_role("AUDITOR"))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_reads_of_a_patient_are_recorded_and_queried_by_patient_and_actor(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant, family_name="Accesslogged")
    pid = patient["id"]
    params = {"min_position": patient["position"]}
    nurse = tenant.as_role("NURSE", actor="nurse-ines")
    why = {**nurse, "X-Access-Reason": "pre-op call"}
    assert (await client.get(f"/v1/patients/{pid}", params=params, headers=why)).is_success
    r = await client.get("/v1/patients", params={**params, "q": "accesslogged"}, headers=nurse)
    assert [p["id"] for p in r.json()["items"]] == [pid]
    key = await make_key(client, tenant, [PATIENTS_READ])
    assert (await client.get(f"/v1/patients/{pid}", headers=with_key(key))).is_success
    auditor = tenant.as_role("AUDITOR", actor="auditor-ann")
    assert (await client.get(f"/v1/streams/patient/{pid}", headers=auditor)).is_success
    assert (await client.get("/v1/patients", params={"q": "nobody-such"}, headers=nurse)).is_success

    entries = await _log(client, tenant, patient_id=pid)
    assert [(e["actor"], e["route"]) for e in entries] == [
        ("auditor-ann", "/v1/streams/{stream_type}/{stream_id}"),
        (key["id"], "/v1/patients/{patient_id}"),
        ("nurse-ines", "/v1/patients"),
        ("nurse-ines", "/v1/patients/{patient_id}"),
    ]
    _, keyed, search, first = entries
    assert (first["reason"], first["roles"], first["patient_ids"]) == (
        "pre-op call",
        ["NURSE"],
        [pid],
    )
    assert search["query"]["q"] == "accesslogged" and search["reason"] is None
    assert keyed["key_id"] == key["id"] and keyed["roles"] == []
    assert [e["route"] for e in await _log(client, tenant, actor="nurse-ines")] == [
        "/v1/patients",
        "/v1/patients/{patient_id}",
    ]  # the search that found nobody read no one's records: not recorded
    assert_problem(
        await client.get("/v1/audit/access", headers=tenant.as_role("CLINIC_ADMIN")),
        403,
        "FORBIDDEN",
    )


async def test_the_log_is_append_only_even_for_the_owner(
    client: httpx.AsyncClient, tenant: TenantFixture, owner_dsn: str
) -> None:
    patient = await create_patient(client, tenant)
    params = {"min_position": patient["position"]}
    r = await client.get(
        f"/v1/patients/{patient['id']}", params=params, headers=tenant.as_role("DOCTOR")
    )
    assert r.is_success
    conn = await asyncpg.connect(owner_dsn)
    try:
        for statement in ("UPDATE access_log SET reason = 'x'", "DELETE FROM access_log"):
            with pytest.raises(asyncpg.PostgresError, match="append-only"):
                await conn.execute(f"{statement} WHERE tenant_id = $1", tenant.id)
    finally:
        await conn.close()


async def test_a_doctor_outside_the_care_breaks_the_glass_with_a_reason(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    visit = await open_walk_in(client, tenant)
    colleague = await create_practitioner(client, tenant, "Dr. Elsewhere")
    other = tenant.as_role("DOCTOR", actor=colleague["id"])
    params = {"min_position": visit.body["position"]}
    assert (await client.get(visit.url(), params=params, headers=other)).is_success  # not required
    admin = tenant.as_role("CLINIC_ADMIN")
    r = await client.patch("/v1/tenant/policy", json={"break_glass_required": True}, headers=admin)
    assert r.status_code == 200, r.text

    r = await client.get(visit.url(), params=params, headers=other)
    assert_problem(r, 403, "BREAK_GLASS_REASON_REQUIRED")
    urgent = {**other, "X-Access-Reason": "patient collapsed in the waiting room"}
    assert (await client.get(visit.url(), params=params, headers=urgent)).is_success
    assert (await client.get(visit.url(), params=params, headers=visit.doctor)).is_success
    covered = await ok(client, visit, "/cover", {"reason": "night shift"}, other)
    now = {"min_position": covered["position"]}
    assert (await client.get(visit.url(), params=now, headers=other)).is_success  # covering

    entries = await _log(client, tenant, patient_id=visit.patient_id, actor=colleague["id"])
    glass = [e for e in entries if e["break_glass"]]
    assert [e["reason"] for e in glass] == ["patient collapsed in the waiting room"]
    assert len(entries) == 3  # before the policy, the broken glass, as covering doctor
