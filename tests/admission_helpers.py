"""Helpers for the admissions end-to-end tests: wards, admissions and reads through HTTP."""

from __future__ import annotations

from typing import Any

import httpx
from e2e_helpers import create_patient
from support import TenantFixture


async def define_ward(
    client: httpx.AsyncClient, tenant: TenantFixture, name: str, beds: list[str]
) -> dict[str, Any]:
    r = await client.post(
        "/v1/wards", json={"name": name, "beds": beds}, headers=tenant.as_role("CLINIC_ADMIN")
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def admit_raw(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    patient_id: str,
    ward_id: str,
    bed: str,
    role: str = "NURSE",
    **extra: Any,
) -> httpx.Response:
    body = {"patient_id": patient_id, "ward_id": ward_id, "bed": bed, "reason": "pneumonia"}
    return await client.post("/v1/admissions", json={**body, **extra}, headers=tenant.as_role(role))


async def admitted(
    client: httpx.AsyncClient, tenant: TenantFixture, ward_id: str, bed: str, **extra: Any
) -> dict[str, Any]:
    """A fresh patient admitted to `bed` of the ward."""
    patient = await create_patient(client, tenant)
    r = await admit_raw(client, tenant, patient["id"], ward_id, bed, **extra)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def command(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    admission_id: str,
    action: str,
    body: dict[str, Any],
    role: str = "DOCTOR",
    **headers: str,
) -> httpx.Response:
    return await client.post(
        f"/v1/admissions/{admission_id}/{action}",
        json=body,
        headers={**tenant.as_role(role), **headers},
    )


async def read(
    client: httpx.AsyncClient, tenant: TenantFixture, path: str, after: int, **params: Any
) -> dict[str, Any]:
    """A GET by an AUDITOR once the read model has applied position `after`."""
    r = await client.get(
        path, params={**params, "min_position": after}, headers=tenant.as_role("AUDITOR")
    )
    assert r.status_code == 200, r.text
    assert int(r.headers["X-Projection-Position"]) >= after
    body: dict[str, Any] = r.json()
    return body
