"""The auditor's endpoints: chain verification, history filters, export."""

import httpx
from e2e_helpers import assert_problem, create_patient
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
