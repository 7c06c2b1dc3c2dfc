"""An answer as of a moment never changes once given, even while a writer that recorded an event
before that moment has not committed yet (docs/temporal.md, Stable answers).

The writer inserts its event, then keeps its transaction open before committing; meanwhile an
auditor asks about a moment after the insert. Every reader of transaction time (stream state
`as_of`, history `recorded_to`, export `to`) must answer then what it answers after the commit.
"""

import asyncio
import datetime as dt
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
from audit_helpers import slow_change, slow_statement
from e2e_helpers import create_patient, iso, now, when
from support import TenantFixture

from backend.eventstore import EventStore

HOLD = 1.5  # seconds the writer keeps its transaction open after inserting
Ask = Callable[[dt.datetime], Awaitable[httpx.Response]]


async def _during_and_after(
    store: EventStore, tenant: TenantFixture, patient: dict[str, Any], ask: Ask
) -> tuple[httpx.Response, httpx.Response, float]:
    """The same question about a moment just after a slow writer's insert, asked before its
    commit and again after it; with the seconds the first answer took."""
    async with slow_change(store, tenant.id, patient["id"], {"family_name": "Shelley"}, HOLD):
        await asyncio.sleep(0.05)
        moment = now()
        started = time.monotonic()
        during = await ask(moment)
        waited = time.monotonic() - started
    after = await ask(moment)
    assert during.status_code == after.status_code == 200, during.text
    return during, after, waited


async def test_state_as_of(
    client: httpx.AsyncClient, store: EventStore, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant, given_name="Mary", family_name="Godwin")

    async def ask(moment: dt.datetime) -> httpx.Response:
        return await client.get(
            f"/v1/streams/patient/{patient['id']}",
            params={"as_of": iso(moment)},
            headers=tenant.as_role("AUDITOR"),
        )

    during, after, waited = await _during_and_after(store, tenant, patient, ask)
    assert during.json() == after.json()
    assert (during.json()["version"], during.json()["state"]["family_name"]) == (2, "Shelley")
    assert waited > HOLD / 2  # it waited for the commit instead of answering version 1


async def test_history_recorded_to(
    client: httpx.AsyncClient, store: EventStore, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)

    async def ask(moment: dt.datetime) -> httpx.Response:
        return await client.get(
            f"/v1/streams/patient/{patient['id']}/events",
            params={"recorded_to": iso(moment)},
            headers=tenant.as_role("AUDITOR"),
        )

    during, after, _ = await _during_and_after(store, tenant, patient, ask)
    assert during.json() == after.json()
    assert [e["version"] for e in during.json()["events"]] == [1, 2]


async def test_export_to(
    client: httpx.AsyncClient, store: EventStore, tenant: TenantFixture
) -> None:
    start = now()
    patient = await create_patient(client, tenant)

    async def ask(moment: dt.datetime) -> httpx.Response:
        return await client.get(
            "/v1/audit/export",
            params={"from": iso(start), "to": iso(moment)},
            headers=tenant.as_role("AUDITOR"),
        )

    during, after, _ = await _during_and_after(store, tenant, patient, ask)
    assert during.text == after.text
    lines = [json.loads(line) for line in during.text.splitlines()]
    assert [(e["stream_id"], e["version"]) for e in lines] == [
        (patient["id"], 1),
        (patient["id"], 2),
    ]


async def test_a_statement_begun_before_the_moment_that_inserts_after_it(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, tenant: TenantFixture
) -> None:
    """Its event is recorded when it is inserted, after the moment: no answer about the moment
    ever holds it (with the statement's start as its time, a later answer would)."""
    start = now()
    patient = await create_patient(client, tenant)
    auditor = tenant.as_role("AUDITOR")

    async def ask(moment: dt.datetime) -> tuple[httpx.Response, httpx.Response]:
        state = await client.get(
            f"/v1/streams/patient/{patient['id']}", params={"as_of": iso(moment)}, headers=auditor
        )
        export = await client.get(
            "/v1/audit/export", params={"from": iso(start), "to": iso(moment)}, headers=auditor
        )
        return state, export

    async with slow_statement(app_pool, tenant.id, patient["id"], delay=1.0):
        await asyncio.sleep(0.3)
        moment = now()
        state, export = await ask(moment)
    later_state, later_export = await ask(moment)
    assert state.json() == later_state.json() and state.json()["version"] == 1
    assert export.text == later_export.text and len(export.text.splitlines()) == 1
    history = await client.get(f"/v1/streams/patient/{patient['id']}/events", headers=auditor)
    assert when(history.json()["events"][1]["recorded_at"]) > moment


async def test_a_moment_still_to_come_is_answered_for_the_present(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    """Nothing can be final about the future: the answer says which moment it is final for."""
    patient = await create_patient(client, tenant)
    tomorrow = now() + dt.timedelta(days=1)
    r = await client.get(
        f"/v1/streams/patient/{patient['id']}",
        params={"as_of": iso(tomorrow)},
        headers=tenant.as_role("AUDITOR"),
    )
    assert r.status_code == 200, r.text
    assert when(r.json()["as_of"]) <= now()
    history = await client.get(
        f"/v1/streams/patient/{patient['id']}/events",
        params={"recorded_to": iso(tomorrow)},
        headers=tenant.as_role("AUDITOR"),
    )
    assert when(history.json()["recorded_to"]) <= now()
    moment = now()
    r = await client.get(
        f"/v1/streams/patient/{patient['id']}",
        params={"as_of": iso(moment)},
        headers=tenant.as_role("AUDITOR"),
    )
    assert when(r.json()["as_of"]) == moment  # a moment already past is answered for itself
