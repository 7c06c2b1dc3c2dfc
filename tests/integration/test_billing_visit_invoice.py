"""draft_invoice_for_visit, the handler a later reaction runs when a visit ends: on the real
store, run twice (and concurrently) it records the invoice once."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from e2e_helpers import create_patient
from support import TenantFixture

from backend.auth.principal import Principal
from backend.billing.service import draft_invoice_for_visit
from backend.billing.visit import visit_invoice_id
from backend.eventstore import EventStore
from backend.handling import CommandResult, RequestContext, run_command
from backend.kernel.errors import Invalid

SERVICES = [
    {"code": "CONSULT", "description": "Consultation", "quantity": 1, "unit_price": "80.00"},
    {"code": "ECG", "description": "Resting ECG", "quantity": 2, "unit_price": "12.5"},
]


async def run(
    store: EventStore,
    tenant: TenantFixture,
    visit_id: uuid.UUID,
    patient_id: str,
    services: list[dict[str, Any]],
) -> CommandResult:
    principal = Principal("reaction:visit-signed-off", tenant.id, frozenset())
    ctx = RequestContext(principal, "req-1", "corr-1", dt.datetime.now(dt.UTC))
    return await run_command(
        store,
        ctx,
        tenant.id,
        lambda s: draft_invoice_for_visit(s, visit_id, uuid.UUID(patient_id), services),
    )


async def event_types(store: EventStore, tenant: TenantFixture, stream_id: uuid.UUID) -> list[str]:
    async with store.transaction(tenant.id) as conn:
        return [e.event_type for e in await store.read_stream(conn, "invoice", stream_id)]


async def test_drafts_once_per_visit(
    client: httpx.AsyncClient, store: EventStore, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    visit_id = uuid.uuid4()
    first = await run(store, tenant, visit_id, patient["id"], SERVICES)
    assert first.id == visit_invoice_id(visit_id)
    assert first.version == 3
    assert first.view["visit_id"] == visit_id
    assert (first.view["status"], first.view["total"], first.view["currency"]) == (
        "draft",
        "105.00",
        "USD",
    )
    again = await run(store, tenant, visit_id, patient["id"], SERVICES[:1])
    assert (again.id, again.version, again.position, again.view) == (
        first.id,
        first.version,
        first.position,
        first.view,
    )
    assert await event_types(store, tenant, first.id) == [
        "InvoiceDrafted",
        "InvoiceLineAdded",
        "InvoiceLineAdded",
    ]
    r = await client.get(
        f"/v1/invoices/{first.id}",
        params={"min_position": first.position},
        headers=tenant.as_role("RECEPTIONIST"),
    )
    assert r.status_code == 200 and r.json()["total"] == "105.00"
    issued = await client.post(
        f"/v1/invoices/{first.id}/issue", headers=tenant.as_role("RECEPTIONIST")
    )
    assert issued.status_code == 200 and issued.json()["status"] == "issued"


async def test_concurrent_runs_record_one_invoice(
    client: httpx.AsyncClient, store: EventStore, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    visit_id = uuid.uuid4()
    results = await asyncio.gather(
        *(run(store, tenant, visit_id, patient["id"], SERVICES) for _ in range(4))
    )
    assert {(r.id, r.version) for r in results} == {(visit_invoice_id(visit_id), 3)}
    assert len(await event_types(store, tenant, visit_invoice_id(visit_id))) == 3


async def test_each_visit_gets_its_own_invoice_and_line_ids_repeat(
    client: httpx.AsyncClient, store: EventStore, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    one = await run(store, tenant, uuid.uuid4(), patient["id"], SERVICES)
    two = await run(store, tenant, uuid.uuid4(), patient["id"], SERVICES)
    assert one.id != two.id
    assert [x["line_id"] for x in one.view["lines"]] != [x["line_id"] for x in two.view["lines"]]


@pytest.mark.parametrize(
    ("services", "field"),
    [
        ([{**SERVICES[0], "unit_price": 80.0}], "services[0].unit_price"),
        ([SERVICES[0], {**SERVICES[1], "quantity": 0}], "services[1].quantity"),
    ],
)
async def test_bad_services_record_nothing(
    client: httpx.AsyncClient,
    store: EventStore,
    tenant: TenantFixture,
    services: list[dict[str, Any]],
    field: str,
) -> None:
    patient = await create_patient(client, tenant)
    visit_id = uuid.uuid4()
    with pytest.raises(Invalid) as e:
        await run(store, tenant, visit_id, patient["id"], services)
    assert e.value.field == field
    assert await event_types(store, tenant, visit_invoice_id(visit_id)) == []


async def test_the_patient_must_exist_in_the_tenant(
    client: httpx.AsyncClient,
    store: EventStore,
    tenant: TenantFixture,
    other_tenant: TenantFixture,
) -> None:
    elsewhere = await create_patient(client, other_tenant)
    with pytest.raises(Invalid) as e:
        await run(store, tenant, uuid.uuid4(), elsewhere["id"], SERVICES)
    assert e.value.field == "patient_id"
