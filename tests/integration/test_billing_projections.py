"""The billing read models against the store: rm_invoices equals each invoice folded from its
events, the ledger holds exactly the journals the events call for (each balanced), and
re-delivering every event changes neither."""

from __future__ import annotations

import dataclasses
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
from billing_helpers import CONSULT, LAB, capture_body, deliver, issued
from support import TenantFixture, new_tenant
from workload import wait_caught_up, workload

from backend.billing.ledger import journal
from backend.billing.model import INVOICE
from backend.billing.projections import INVOICES, LEDGER
from backend.eventstore.db import connect
from backend.kernel.events import from_data
from projections.catchup import CatchUpRunner


async def _bill_and_pay(client: httpx.AsyncClient, tenant: TenantFixture) -> int:
    """An issued invoice paid in two parts (one delivered twice) and partly refunded."""
    invoice = await issued(client, tenant, [CONSULT, LAB])
    first = capture_body(tenant, invoice["id"], "50.00")
    paid = (await deliver(client, first)).json()
    await deliver(client, first)
    rest = (await deliver(client, capture_body(tenant, invoice["id"], "50.01"))).json()
    r = await client.post(
        f"/v1/invoices/{invoice['id']}/refunds",
        json={"payment_id": paid["id"], "amount": "20.00", "reason": "goodwill"},
        headers=tenant.as_role("FINANCE_BILLING"),
    )
    assert r.status_code == 201, r.text
    return max(int(rest["position"]), int(r.json()["position"]))


async def _events(owner_dsn: str, tenants: set[uuid.UUID]) -> list[asyncpg.Record]:
    owner = await connect(owner_dsn)
    try:
        return await owner.fetch(
            "SELECT * FROM events WHERE tenant_id = ANY($1) AND stream_type IN"
            " ('invoice', 'payment') ORDER BY position",
            list(tenants),
        )
    finally:
        await owner.close()


async def _ledger_rows(pool: asyncpg.Pool, tenants: set[uuid.UUID]) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM rm_ledger_entries WHERE tenant_id = ANY($1) ORDER BY position, account",
        list(tenants),
    )


async def test_billing_read_models_equal_the_store(
    client: httpx.AsyncClient, projector_pool: asyncpg.Pool, owner_dsn: str
) -> None:
    tenants = [await new_tenant(client) for _ in range(2)]
    last = await workload(client, tenants)
    for tenant in tenants:
        last = max(last, await _bill_and_pay(client, tenant))
    await wait_caught_up(projector_pool, last)
    ids = {t.id for t in tenants}
    events = await _events(owner_dsn, ids)

    streams: dict[tuple[uuid.UUID, uuid.UUID], list[asyncpg.Record]] = {}
    for e in events:
        if e["stream_type"] == "invoice":
            streams.setdefault((e["tenant_id"], e["stream_id"]), []).append(e)
    expected = {
        key: (INVOICE.view(INVOICE.fold(from_data(e["event_type"], e["data"]) for e in evs)), n)
        for key, evs in streams.items()
        for n in [evs[-1]["version"]]
    }
    rows = await projector_pool.fetch(
        "SELECT * FROM rm_invoices WHERE tenant_id = ANY($1)", list(ids)
    )
    actual = {
        (r["tenant_id"], r["invoice_id"]): (INVOICE.view(INVOICES.from_row(r)), r["version"])
        for r in rows
    }
    assert actual == expected
    assert {v["status"] for v, _ in actual.values()} >= {"draft", "issued", "paid"}

    wanted: list[tuple[Any, ...]] = []
    for e in events:
        entry = journal(from_data(e["event_type"], e["data"]), e["stream_type"])
        if entry is None:
            continue
        assert entry.balanced, e["event_type"]
        wanted += sorted(
            (e["position"], p.account, p.debit, p.credit, entry.invoice_id, entry.currency)
            for p in entry.postings
        )
    ledger = await _ledger_rows(projector_pool, ids)
    got = [
        (r["position"], r["account"], r["debit"], r["credit"], r["invoice_id"], r["currency"])
        for r in ledger
    ]
    assert got == wanted
    assert {r["event_type"] for r in ledger} == {"InvoiceIssued", "PaymentCaptured", "RefundIssued"}
    assert sum(r["debit"] for r in ledger) == sum(r["credit"] for r in ledger) > Decimal(0)


async def test_redelivered_billing_events_change_nothing(
    client: httpx.AsyncClient, projector_pool: asyncpg.Pool
) -> None:
    tenant = await new_tenant(client)
    await wait_caught_up(projector_pool, await _bill_and_pay(client, tenant))
    before_ledger = await _ledger_rows(projector_pool, {tenant.id})
    before_invoices = await projector_pool.fetch(
        "SELECT * FROM rm_invoices WHERE tenant_id = $1", tenant.id
    )
    for projection in (LEDGER, INVOICES):
        again = dataclasses.replace(projection, name=f"replay-{uuid.uuid4().hex[:8]}")  # type: ignore[type-var]
        runner = CatchUpRunner(projector_pool, again, batch_size=500)
        while await runner.step():
            pass
    assert await _ledger_rows(projector_pool, {tenant.id}) == before_ledger
    after_invoices = await projector_pool.fetch(
        "SELECT * FROM rm_invoices WHERE tenant_id = $1", tenant.id
    )
    assert after_invoices == before_invoices and before_ledger
