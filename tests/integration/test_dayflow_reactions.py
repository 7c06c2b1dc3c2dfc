"""The reactions that carry a visit into billing and a payment into a receipt, on the real
store: a redelivered event records nothing, the commands are caused by their event, a visit
without services gets no invoice and a refused payment no receipt."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
from billing_helpers import CONSULT, capture_body, deliver, issued
from dayflow_helpers import reaction_passed
from infra import stored_events
from support import TenantFixture
from visit_helpers import NOTE, OpenVisit, ok, open_walk_in

from backend.billing.events import PaymentCaptured, PaymentRefused
from backend.billing.payment import payment_stream_id
from backend.billing.reactions import visit_invoice
from backend.billing.visit import visit_invoice_id
from backend.eventstore import EventStore, RecordedEvent
from backend.notifications.reactions import payment_receipt
from backend.reactions.framework import Commands, ReactionSubscription


async def recorded(pool: asyncpg.Pool, stream_id: uuid.UUID, event_type: str) -> RecordedEvent:
    [event] = await stored_events(pool, "stream_id = $1 AND event_type = $2", stream_id, event_type)
    return event


async def stream(pool: asyncpg.Pool, tenant: TenantFixture, stream_id: uuid.UUID) -> list[str]:
    rows = await pool.fetch(
        "SELECT event_type FROM events WHERE tenant_id = $1 AND stream_id = $2 ORDER BY version",
        tenant.id,
        stream_id,
    )
    return [r["event_type"] for r in rows]


async def receipts_for(pool: asyncpg.Pool, source: RecordedEvent) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM events WHERE event_type = 'NotificationQueued' AND tenant_id = $1"
        " AND data->>'source_event_id' = $2",
        source.tenant_id,
        str(source.event_id),
    )


async def signed_with(
    client: httpx.AsyncClient, tenant: TenantFixture, services: list[dict[str, object]]
) -> OpenVisit:
    visit = await open_walk_in(client, tenant)
    for service in services:
        await ok(client, visit, "/services", service, "RECEPTIONIST")
    await ok(client, visit, "/note", NOTE, "DOCTOR", "PUT")
    await ok(client, visit, "/sign-off", None, visit.doctor)
    return visit


async def test_a_redelivered_sign_off_drafts_one_invoice(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    projector_pool: asyncpg.Pool,
    store: EventStore,
) -> None:
    visit = await signed_with(client, tenant, [CONSULT, {**CONSULT, "code": "ECG"}])
    source = await recorded(projector_pool, uuid.UUID(visit.id), "VisitSignedOff")
    for _ in range(3):
        await visit_invoice.handle(source, Commands(store, visit_invoice.name, source))
    invoice_id = visit_invoice_id(uuid.UUID(visit.id))
    assert await stream(projector_pool, tenant, invoice_id) == [
        "InvoiceDrafted",
        "InvoiceLineAdded",
        "InvoiceLineAdded",
    ]
    drafted = await recorded(projector_pool, invoice_id, "InvoiceDrafted")
    assert drafted.data["visit_id"] == visit.id
    assert drafted.data["patient_id"] == visit.patient_id
    assert drafted.metadata["actor"] == "reaction:visit-invoice"
    assert drafted.metadata["causation_id"] == str(source.event_id)
    assert drafted.metadata["correlation_id"] == source.metadata["correlation_id"]


async def test_a_visit_without_services_gets_no_invoice(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    projector_pool: asyncpg.Pool,
    store: EventStore,
) -> None:
    visit = await signed_with(client, tenant, [])
    source = await recorded(projector_pool, uuid.UUID(visit.id), "VisitSignedOff")
    await visit_invoice.handle(source, Commands(store, visit_invoice.name, source))
    await reaction_passed(client, tenant, visit_invoice.name, source.position)
    assert await stream(projector_pool, tenant, visit_invoice_id(uuid.UUID(visit.id))) == []


async def test_a_redelivered_capture_queues_one_receipt(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    projector_pool: asyncpg.Pool,
    store: EventStore,
) -> None:
    invoice = await issued(client, tenant, [CONSULT])
    r = await deliver(client, capture_body(tenant, invoice["id"], "80.00"))
    assert r.status_code == 200 and r.json()["status"] == "captured", r.text
    source = await recorded(projector_pool, uuid.UUID(r.json()["id"]), "PaymentCaptured")
    for _ in range(3):
        await payment_receipt.handle(source, Commands(store, payment_receipt.name, source))
    (queued,) = await receipts_for(projector_pool, source)
    assert queued["data"]["template"] == "payment_receipt"
    assert queued["data"]["patient_id"] == invoice["patient_id"]
    assert queued["metadata"]["actor"] == "reaction:payment-receipt"
    assert queued["metadata"]["causation_id"] == str(source.event_id)


async def test_a_refused_payment_gets_no_receipt(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    projector_pool: asyncpg.Pool,
    store: EventStore,
) -> None:
    invoice = await issued(client, tenant, [CONSULT])
    body = capture_body(tenant, invoice["id"], "80.00", currency="EUR")
    r = await deliver(client, body)
    assert r.status_code == 422 and r.json()["code"] == "CURRENCY_MISMATCH", r.text
    payment_id = payment_stream_id("fakepay", body["payment_id"])
    source = await recorded(projector_pool, payment_id, "PaymentRefused")
    assert PaymentRefused.type_name() not in payment_receipt.event_types
    assert payment_receipt.event_types == {PaymentCaptured.type_name()}
    async with projector_pool.acquire() as conn:
        await ReactionSubscription(payment_receipt, store).apply(conn, [source])
    await reaction_passed(client, tenant, payment_receipt.name, source.position)
    assert await receipts_for(projector_pool, source) == []
    messages = await projector_pool.fetchval(
        "SELECT count(*) FROM events WHERE event_type = 'NotificationQueued'"
        " AND tenant_id = $1 AND data->>'patient_id' = $2",
        tenant.id,
        invoice["patient_id"],
    )
    assert messages == 0
