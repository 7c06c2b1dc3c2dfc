"""Helpers for the visits end-to-end tests: a patient, their doctor and an open visit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from e2e_helpers import create_patient, create_practitioner
from support import TenantFixture

NOTE = {
    "subjective": "cough for 3 days",
    "objective": "T 38.2 C, wheeze",
    "assessment": "acute bronchitis",
    "plan": "rest, fluids",
}


@dataclass(frozen=True)
class OpenVisit:
    tenant: TenantFixture
    id: str
    patient_id: str
    doctor_id: str
    body: dict[str, Any]

    @property
    def doctor(self) -> dict[str, str]:
        """The owning doctor's credentials: their JWT sub is their practitioner id."""
        return self.tenant.as_role("DOCTOR", actor=self.doctor_id)

    def url(self, suffix: str = "") -> str:
        return f"/v1/visits/{self.id}{suffix}"


async def open_walk_in(client: httpx.AsyncClient, tenant: TenantFixture, **extra: Any) -> OpenVisit:
    """A new patient's walk-in visit with a new doctor; `extra` adds to the body (opened_at)."""
    patient = await create_patient(client, tenant)
    doctor = await create_practitioner(client, tenant)
    body = {"patient_id": patient["id"], "practitioner_id": doctor["id"], "reason": "cough"}
    r = await client.post(
        "/v1/visits", json={**body, **extra}, headers=tenant.as_role("RECEPTIONIST")
    )
    assert r.status_code == 201, r.text
    return OpenVisit(tenant, r.json()["id"], patient["id"], doctor["id"], r.json())


async def send(
    client: httpx.AsyncClient,
    visit: OpenVisit,
    suffix: str,
    body: dict[str, Any] | None,
    role: str | dict[str, str],
    method: str = "POST",
) -> httpx.Response:
    headers = _credentials(visit, role)
    return await client.request(method, visit.url(suffix), json=body, headers=headers)


def _credentials(visit: OpenVisit, role: str | dict[str, str]) -> dict[str, str]:
    """ "DOCTOR" is the visit's own doctor (the note, prescriptions and orders are theirs);
    another role is a member of the tenant with it; a dict is the headers as given."""
    if role == "DOCTOR":
        return visit.doctor
    return visit.tenant.as_role(role) if isinstance(role, str) else role


async def ok(
    client: httpx.AsyncClient,
    visit: OpenVisit,
    suffix: str,
    body: dict[str, Any] | None,
    role: str | dict[str, str],
    method: str = "POST",
) -> dict[str, Any]:
    r = await send(client, visit, suffix, body, role, method)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


async def signed_visit(client: httpx.AsyncClient, tenant: TenantFixture) -> OpenVisit:
    visit = await open_walk_in(client, tenant)
    await ok(client, visit, "/note", NOTE, "DOCTOR", "PUT")
    await ok(client, visit, "/sign-off", None, visit.doctor)
    return visit


async def events_of(
    client: httpx.AsyncClient, visit: OpenVisit, event_type: str
) -> list[dict[str, Any]]:
    r = await client.get(
        f"/v1/streams/visit/{visit.id}/events", headers=visit.tenant.as_role("AUDITOR")
    )
    assert r.status_code == 200, r.text
    return [e for e in r.json()["events"] if e["type"] == event_type]
