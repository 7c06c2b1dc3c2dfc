"""The ledger in commit order with running balances (backend/billing/projections.py): postings
applied out of the global order, as Kafka's partitions may apply an invoice's and a payment's
events, end as a replay in order makes them; and a read shows no posting beyond the place the
ledger has applied everything up to, so a journal that commits, or is applied, late is never
behind a page already read."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg
import httpx
import pytest
from billing_helpers import CONSULT, LAB, capture_body, command, deliver, issued
from infra import stored_events
from support import TenantFixture

from backend.billing.projections import LEDGER, LedgerProjection
from backend.eventstore import RecordedEvent
from projections.rebuild import create_shadow

ORDER = "ORDER BY tx_id, position, account"


async def _books(client: httpx.AsyncClient, tenant: TenantFixture) -> int:
    """Two invoices, three captures and a refund; the last position."""
    first = await issued(client, tenant, [CONSULT])
    second = await issued(client, tenant, [LAB, CONSULT])
    paid = (await deliver(client, capture_body(tenant, first["id"], "50.00"))).json()
    await deliver(client, capture_body(tenant, second["id"], "20.01"))
    await deliver(client, capture_body(tenant, first["id"], "30.00"))
    refund = {"payment_id": paid["id"], "amount": "10.00", "reason": "goodwill"}
    r = await command(client, tenant, f"{first['id']}/refunds", refund, role="CLINIC_ADMIN")
    assert r.status_code == 201, r.text
    position: int = r.json()["position"]
    return position


@pytest.fixture
async def owner(owner_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(owner_dsn)
    yield conn
    await conn.close()


async def _replay(
    pool: asyncpg.Pool, owner: asyncpg.Connection, purpose: str, batches: list[list[RecordedEvent]]
) -> list[asyncpg.Record]:
    ledger: LedgerProjection = dataclasses.replace(LEDGER, table=f"{LEDGER.table}__{purpose}")
    await create_shadow(owner, LEDGER.table, ledger.table)
    try:
        for batch in batches:
            async with pool.acquire() as conn, conn.transaction():
                await ledger.apply(conn, batch)
        return await pool.fetch(f"SELECT * FROM {ledger.table} {ORDER}")
    finally:
        await owner.execute(f"DROP TABLE {ledger.table}")


async def test_postings_applied_out_of_order_end_as_in_order(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    projector_pool: asyncpg.Pool,
    relay_pool: asyncpg.Pool,
    owner: asyncpg.Connection,
) -> None:
    await _books(client, tenant)
    events = await stored_events(
        relay_pool, "tenant_id = $1 AND stream_type IN ('invoice', 'payment')", tenant.id
    )
    in_order = await _replay(projector_pool, owner, "in_order", [events])
    # Like Kafka: each stream in order, the streams one after another, newest stream first.
    streams: dict[uuid.UUID, list[RecordedEvent]] = {}
    for event in events:
        streams.setdefault(event.stream_id, []).append(event)
    late_first = [[e] for stream in reversed(list(streams.values())) for e in stream]
    assert late_first[0][0].position > events[0].position
    out_of_order = await _replay(projector_pool, owner, "out_of_order", late_first)
    assert out_of_order == in_order
    assert len(in_order) > 10
    # The running totals are the sums in commit order.
    sums: dict[str, list[Decimal]] = {}
    for row in in_order:
        debit, credit = sums.setdefault(row["account"], [Decimal(0), Decimal(0)])
        sums[row["account"]] = [debit + row["debit"], credit + row["credit"]]
        assert [row["total_debit"], row["total_credit"]] == sums[row["account"]]


async def test_a_posting_beyond_the_applied_place_is_not_shown_yet(
    client: httpx.AsyncClient, tenant: TenantFixture, projector_pool: asyncpg.Pool
) -> None:
    last = await _books(client, tenant)
    shown = await client.get(
        "/v1/ledger", params={"min_position": last}, headers=tenant.as_role("AUDITOR")
    )
    assert shown.status_code == 200, shown.text
    before = shown.json()
    # A row the ledger's place has not reached (as a partition ahead of another leaves it).
    ahead = uuid.uuid4()
    row = await projector_pool.fetchrow(
        f"SELECT * FROM rm_ledger_entries WHERE tenant_id = $1 {ORDER} LIMIT 1", tenant.id
    )
    values = {**dict(row), "entry_id": ahead, "tx_id": 2**40, "position": 2**40}
    columns = ", ".join(values)
    parameters = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    await projector_pool.execute(
        f"INSERT INTO rm_ledger_entries ({columns}) VALUES ({parameters})", *values.values()
    )
    try:
        again = await client.get("/v1/ledger", headers=tenant.as_role("AUDITOR"))
        assert again.json() == before
    finally:
        await projector_pool.execute(
            "DELETE FROM rm_ledger_entries WHERE tenant_id = $1 AND entry_id = $2",
            tenant.id,
            ahead,
        )
