import httpx
from support import TenantFixture


async def test_patient_registration_round_trip(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    headers = tenant.as_role("RECEPTIONIST")
    body = {
        "given_name": "Ada",
        "family_name": "Lovelace",
        "birth_date": "1815-12-10",
        "sex": "female",
    }
    r = await client.post("/v1/patients", json=body, headers=headers)
    assert r.status_code == 201, r.text
    r2 = await client.get(f"/v1/patients/{r.json()['id']}", headers=headers)
    assert r2.json()["family_name"] == "Lovelace"
    assert r2.json()["version"] == 1
