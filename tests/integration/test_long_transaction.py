"""A long transaction elsewhere in the cluster must not stall projections; a stuck write
transaction of the runtime role stalls them only until PostgreSQL ends it (5 s idle limit).

The global readers wait only for transactions that can still commit events: those of sessions in
this database whose role may insert events (see event_horizon() in migration 0002). An unrelated
transaction (a report under a read-only role), even one holding an xid for 30 s, is not.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
from support import TenantFixture, bearer

from backend.settings import with_user

HOLD_SECONDS = 30


async def test_an_unrelated_long_transaction_does_not_stall_read_models(
    client: httpx.AsyncClient, tenant: TenantFixture, owner_dsn: str
) -> None:
    owner = await asyncpg.connect(owner_dsn)
    await owner.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'caretrail_test_report')"
        " THEN CREATE ROLE caretrail_test_report LOGIN; END IF; END $$"
    )
    await owner.close()
    # A reporting session: same database, no right to write events, no timeouts.
    other = await asyncpg.connect(with_user(owner_dsn, "caretrail_test_report"))
    await other.execute(
        "BEGIN; CREATE TEMP TABLE report_scratch (n int); SELECT pg_current_xact_id()"
    )
    headers = tenant.as_role("RECEPTIONIST")
    waits: list[float] = []
    try:
        deadline = time.monotonic() + HOLD_SECONDS
        n = 0
        while time.monotonic() < deadline:
            body = {
                "given_name": f"L{n}",
                "family_name": "Longtx",
                "birth_date": "1970-01-01",
                "sex": "other",
            }
            created = await client.post("/v1/patients", json=body, headers=headers)
            assert created.status_code == 201
            started = time.monotonic()
            r = await client.get(
                f"/v1/patients/{created.json()['id']}",
                params={"min_position": created.json()["position"]},
                headers=headers,
            )
            waits.append(time.monotonic() - started)
            assert r.status_code == 200, r.text  # not 503 PROJECTION_LAGGING
            n += 1
            await asyncio.sleep(0.2)
        still_open = await other.fetchval("SELECT pg_current_xact_id()::text")
        assert still_open  # the unrelated transaction was open the whole time
    finally:
        await other.execute("ROLLBACK")
        await other.close()
    assert n > 50
    waits.sort()
    assert waits[len(waits) // 2] < 0.5  # the read models kept up throughout


async def test_a_stuck_write_transaction_stalls_reads_only_until_postgres_ends_it(
    client: httpx.AsyncClient, tenant: TenantFixture, owner_dsn: str
) -> None:
    stuck = await asyncpg.connect(with_user(owner_dsn, "caretrail_app"))
    await stuck.execute("BEGIN; SELECT pg_current_xact_id()")  # holds an xid, then idles
    headers = tenant.as_role("RECEPTIONIST")
    body = {"given_name": "S", "family_name": "Stuck", "birth_date": "1970-01-01", "sex": "other"}
    created = (await client.post("/v1/patients", json=body, headers=headers)).json()
    started = time.monotonic()
    r = await client.get(
        f"/v1/patients/{created['id']}",
        params={"min_position": created["position"]},
        headers=headers,
    )
    if r.status_code == 503:  # waited the full 5 s: ask again, as Retry-After says
        assert r.headers["Retry-After"] == "1"
        r = await client.get(
            f"/v1/patients/{created['id']}",
            params={"min_position": created["position"]},
            headers=headers,
        )
    stalled = time.monotonic() - started
    assert r.status_code == 200, r.text
    assert 3 < stalled < 12  # held back until idle_in_transaction_session_timeout (5 s) hit
    assert stuck.is_closed() or await _terminated(stuck)
    status = (await client.get("/v1/projections", headers=bearer(["PLATFORM_ADMIN"]))).json()
    assert status["oldest_write_transaction_seconds"] is None  # nothing holds readers back now


async def _terminated(conn: asyncpg.Connection) -> bool:
    try:
        await conn.fetchval("SELECT 1")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        return True
    return False
