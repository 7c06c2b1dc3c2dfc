"""Stored responses live `idempotency_key_hours` (24 by default); an expired key is new again.
Expired rows are deleted a few at a time by later keyed commands of their tenant, through an
index, never by a scan of the table; erasure tombstones are kept."""

import asyncio
import datetime as dt
import uuid

import httpx
from e2e_helpers import patient_body
from fastapi import FastAPI
from idempotency_helpers import assert_executed, assert_replayed, keyed, stored_rows
from support import TenantFixture

from backend.api.idempotency import EXPIRED_KEYS, EXPIRED_PER_COMMAND, TOMBSTONE
from backend.eventstore.db import connect

SET_TENANT = "SELECT set_config('app.tenant_id', $1, false)"


async def test_a_response_is_kept_for_a_day_by_default(
    client: httpx.AsyncClient, tenant: TenantFixture, owner_dsn: str
) -> None:
    headers = keyed(tenant.as_role("RECEPTIONIST"))
    assert_executed(await client.post("/v1/patients", json=patient_body(), headers=headers))
    [row] = [
        r for r in await stored_rows(owner_dsn, tenant.id) if r["key"] == headers["Idempotency-Key"]
    ]
    assert row["expires_at"] - row["created_at"] == dt.timedelta(hours=24)


async def test_an_expired_key_runs_again(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    settings = app.state.settings
    app.state.settings = settings.model_copy(update={"idempotency_key_hours": 0.3 / 3600})
    try:
        body, headers = patient_body(), keyed(tenant.as_role("RECEPTIONIST"))
        first = await client.post("/v1/patients", json=body, headers=headers)
        assert_replayed(await client.post("/v1/patients", json=body, headers=headers), first)
        await asyncio.sleep(0.4)
        again = await client.post("/v1/patients", json=body, headers=headers)
    finally:
        app.state.settings = settings
    assert_executed(again)
    assert again.json()["id"] != first.json()["id"]
    assert_replayed(await client.post("/v1/patients", json=body, headers=headers), again)


async def _plant(owner_dsn: str, tenant_id: uuid.UUID, expired: int, tombstones: int) -> None:
    """Rows as earlier commands left them: `expired` ones past their time, and tombstones."""
    conn = await connect(owner_dsn)
    try:
        await conn.execute(SET_TENANT, str(tenant_id))
        await conn.execute(
            "INSERT INTO idempotency_keys (tenant_id, actor, key, request_hash, status_code,"
            " response, created_at, expires_at)"
            " SELECT $1, 'old-desk', 'old-' || n, 'h', 201, '{}', now() - interval '2 days',"
            "        now() - interval '1 day' - n * interval '1 second'"
            " FROM generate_series(1, $2) AS n",
            tenant_id,
            expired,
        )
        await conn.execute(
            "INSERT INTO idempotency_keys (tenant_id, actor, key, status_code, response,"
            " created_at, patient_id)"
            " SELECT $1, 'old-desk', 'erased-' || n, 410, $3, now() - interval '3 days',"
            "        gen_random_uuid() FROM generate_series(1, $2) AS n",
            tenant_id,
            tombstones,
            TOMBSTONE,
        )
    finally:
        await conn.close()


async def test_expired_keys_are_deleted_by_later_keyed_commands(
    client: httpx.AsyncClient, tenant: TenantFixture, other_tenant: TenantFixture, owner_dsn: str
) -> None:
    await _plant(owner_dsn, tenant.id, EXPIRED_PER_COMMAND + 4, 2)
    await _plant(owner_dsn, other_tenant.id, 3, 0)

    async def old_rows(tenant_id: uuid.UUID) -> list[int]:
        rows = await stored_rows(owner_dsn, tenant_id)
        return [r["status_code"] for r in rows if r["actor"] == "old-desk"]

    staff = tenant.as_role("RECEPTIONIST")
    assert_executed(await client.post("/v1/patients", json=patient_body(), headers=keyed(staff)))
    assert sorted(await old_rows(tenant.id)) == [201] * 4 + [410] * 2
    assert_executed(await client.post("/v1/patients", json=patient_body(), headers=keyed(staff)))
    assert await old_rows(tenant.id) == [410, 410]
    assert await old_rows(other_tenant.id) == [201] * 3


async def test_finding_expired_keys_reads_the_expiry_index(
    tenant: TenantFixture, owner_dsn: str, app_dsn: str
) -> None:
    await _plant(owner_dsn, tenant.id, 20_000, 0)
    owner = await connect(owner_dsn)
    try:
        await owner.execute("ANALYZE idempotency_keys")
        conn = await connect(app_dsn)
        try:
            async with conn.transaction():
                await conn.execute(SET_TENANT, str(tenant.id))
                plan = await conn.fetch(f"EXPLAIN {EXPIRED_KEYS}", tenant.id, "desk", "k")
        finally:
            await conn.close()
        await owner.execute(SET_TENANT, str(tenant.id))
        await owner.execute("DELETE FROM idempotency_keys WHERE tenant_id = $1", tenant.id)
    finally:
        await owner.close()
    text = "\n".join(r[0] for r in plan)
    assert "idempotency_keys_expiry" in text, text
    assert "Seq Scan" not in text, text
