"""Webhook subscriptions delivered to a real HTTP receiver on 127.0.0.1: made by a partner's
key and its own, signed as Standard Webhooks, in order, at least once (a dispatcher killed
mid-delivery sends the same webhook-id again and loses nothing), retried with backoff, disabled
after repeated failure with the reason shown, replayed from a position; private addresses
refused when local URLs are not allowed."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from e2e_helpers import assert_problem, create_patient, error_fields
from fastapi import FastAPI
from partner_helpers import make_key, with_key
from support import JWT_SECRET, TenantFixture
from webhook_helpers import Receiver, receiver, verify

from backend.auth.scopes import EVENTS_READ, PATIENTS_READ, PATIENTS_WRITE
from backend.webhooks.addresses import OutboundRules
from backend.webhooks.dispatcher import DeliveryPolicy, WebhookDispatcher

REGISTERED = "PatientRegistered"
FIRST_RETRY = dt.timedelta(seconds=0.3)
MAX_FAILURES = 3


@pytest.fixture
async def dispatcher(app: FastAPI) -> AsyncIterator[WebhookDispatcher]:
    """The app's dispatcher stopped, and one with quick retries in its place (given back
    after the test)."""
    own: WebhookDispatcher = app.state.workers.webhooks
    await own.stop()
    quick = WebhookDispatcher(
        own.pool,
        own.store,
        OutboundRules(local_allowed=True),
        DeliveryPolicy(
            MAX_FAILURES, FIRST_RETRY, timeout_seconds=5, lease=dt.timedelta(seconds=30)
        ),
        poll_seconds=0.05,
    )
    await quick.start()
    try:
        yield quick
    finally:
        await quick.stop()
        await own.start()


@pytest.fixture
async def hook() -> AsyncIterator[Receiver]:
    async with receiver() as made:
        yield made


async def subscribe(
    client: httpx.AsyncClient, key: dict[str, Any], url: str, **extra: Any
) -> dict[str, Any]:
    body = {"url": url, "types": [REGISTERED], **extra}
    r = await client.post("/v1/subscriptions", json=body, headers=with_key(key))
    assert r.status_code == 201, r.text
    made: dict[str, Any] = r.json()
    return made


async def register(
    client: httpx.AsyncClient, tenant: TenantFixture, count: int
) -> list[dict[str, Any]]:
    return [await create_patient(client, tenant, given_name=f"Ada{n}") for n in range(count)]


async def subscription(
    client: httpx.AsyncClient, tenant: TenantFixture, subscription_id: str
) -> dict[str, Any]:
    r = await client.get("/v1/subscriptions", headers=tenant.as_role("CLINIC_ADMIN"))
    assert r.status_code == 200, r.text
    found: dict[str, Any] = next(s for s in r.json()["items"] if s["id"] == subscription_id)
    return found


async def wait_for_state(
    client: httpx.AsyncClient, tenant: TenantFixture, subscription_id: str, state: str
) -> dict[str, Any]:
    for _ in range(300):
        shown = await subscription(client, tenant, subscription_id)
        if shown["state"] == state:
            return shown
        await asyncio.sleep(0.05)
    raise AssertionError(f"never {state}: {shown}")


async def test_deliveries_are_signed_in_order_and_the_subscription_is_the_keys_own(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    dispatcher: WebhookDispatcher,
    hook: Receiver,
) -> None:
    key = await make_key(client, tenant, [EVENTS_READ, PATIENTS_READ])
    made = await subscribe(client, key, hook.url)
    secret = made["secret"]
    assert secret.startswith("whsec_") and made["state"] == "active"
    assert (made["types"], made["key_id"], made["url"]) == ([REGISTERED], key["id"], hook.url)
    patients = await register(client, tenant, 3)

    deliveries = await hook.wait_for(3)
    payloads = [verify(secret, d.headers, d.body) for d in deliveries]
    assert [p["data"]["stream_id"] for p in payloads] == [p["id"] for p in patients]
    assert [p["data"]["position"] for p in payloads] == [p["position"] for p in patients]
    assert {p["type"] for p in payloads} == {REGISTERED}
    assert payloads[0]["data"]["data"]["given_name"] == "Ada0"  # the key reads patients
    assert len({d.id for d in deliveries}) == 3
    wrong = secret[:-4] + ("AAA=" if not secret.endswith("AAA=") else "BBB=")
    with pytest.raises(ValueError, match="signature"):
        verify(wrong, deliveries[0].headers, deliveries[0].body)

    shown = await subscription(client, tenant, made["id"])
    assert "secret" not in shown and secret not in str(shown)
    assert (shown["delivered_position"], shown["failures"]) == (patients[-1]["position"], 0)

    other_key = with_key(await make_key(client, tenant, [EVENTS_READ]))
    mine = (await client.get("/v1/subscriptions", headers=with_key(key))).json()["items"]
    assert [s["id"] for s in mine] == [made["id"]]
    assert (await client.get("/v1/subscriptions", headers=other_key)).json()["items"] == []
    r = await client.delete(f"/v1/subscriptions/{made['id']}", headers=other_key)
    assert_problem(r, 404, "NOT_FOUND")
    r = await client.post(
        "/v1/subscriptions",
        json={"url": hook.url, "types": [REGISTERED]},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert_problem(r, 403, "FORBIDDEN")
    r = await client.get("/v1/subscriptions", headers=tenant.as_role("DOCTOR"))
    assert_problem(r, 403, "FORBIDDEN")
    for wrong_body in ({"types": ["ApiKeyCreated"]}, {"types": ["NoSuchEvent"]}, {"types": []}):
        r = await client.post(
            "/v1/subscriptions", json={"url": hook.url, **wrong_body}, headers=with_key(key)
        )
        assert error_fields(r) == {"types"}, r.text
    r = await client.post(
        "/v1/subscriptions",
        json={"url": hook.url, "types": [REGISTERED], "secret": "whsec_dG9vIHNob3J0"},
        headers=with_key(key),
    )
    assert error_fields(r) == {"secret"}

    deleted = await client.delete(
        f"/v1/subscriptions/{made['id']}", headers=tenant.as_role("CLINIC_ADMIN")
    )
    assert (deleted.status_code, deleted.json()["state"]) == (200, "deleted"), deleted.text
    await register(client, tenant, 1)
    await asyncio.sleep(0.5)
    assert len(hook.received) == 3  # nothing after the deletion
    assert (await client.get("/v1/subscriptions", headers=with_key(key))).json()["items"] == []


async def test_a_key_without_patients_read_gets_no_personal_fields_and_its_given_secret_signs(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    dispatcher: WebhookDispatcher,
    hook: Receiver,
) -> None:
    key = await make_key(client, tenant, [EVENTS_READ])
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks example's
    made = await subscribe(client, key, hook.url, secret=secret)
    assert "secret" not in made  # the partner's own is not repeated
    [patient] = await register(client, tenant, 1)
    [delivery] = await hook.wait_for(1)
    data = verify(secret, delivery.headers, delivery.body)["data"]
    assert data["stream_id"] == patient["id"]
    assert "given_name" not in data["data"] and "sealed" not in data["data"]


async def test_a_dispatcher_killed_mid_delivery_loses_nothing_and_resends_the_same_id(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    dispatcher: WebhookDispatcher,
    hook: Receiver,
) -> None:
    key = await make_key(client, tenant, [EVENTS_READ, PATIENTS_WRITE])
    made = await subscribe(client, key, hook.url)
    hook.gate = asyncio.Event()  # the receiver holds the first delivery
    patients = await register(client, tenant, 3)
    await hook.arrived.wait()
    await dispatcher.stop()  # mid-delivery: the receiver has it, its answer never comes back
    assert len(hook.received) == 1
    hook.gate.set()
    hook.gate = None
    await dispatcher.start()

    deliveries = await hook.wait_for(4)
    await asyncio.sleep(0.3)
    deliveries = hook.received
    first_ids = list(dict.fromkeys(d.id for d in deliveries))
    assert len(first_ids) == 3  # nothing lost
    assert deliveries[0].id == deliveries[1].id  # the one in flight, again, with its id
    positions = [verify(made["secret"], d.headers, d.body)["data"]["position"] for d in deliveries]
    assert positions == sorted(positions)  # in order, the repeat included
    assert sorted(set(positions)) == [p["position"] for p in patients]


async def test_failures_are_retried_with_backoff_then_disable_the_subscription_until_replayed(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    dispatcher: WebhookDispatcher,
    hook: Receiver,
) -> None:
    key = await make_key(client, tenant, [EVENTS_READ, PATIENTS_WRITE])
    made = await subscribe(client, key, hook.url)
    hook.answer = lambda n: 500 if n < 2 else 200
    [first, second] = await register(client, tenant, 2)
    deliveries = await hook.wait_for(4)
    assert [d.id for d in deliveries[:3]] == [deliveries[0].id] * 3  # the same event, retried
    waits = [b.at - a.at for a, b in itertools.pairwise(deliveries[:3])]
    assert waits[0] >= FIRST_RETRY.total_seconds() * 0.9, waits
    assert waits[1] >= 2 * FIRST_RETRY.total_seconds() * 0.9, waits  # doubled
    assert deliveries[3].id != deliveries[0].id  # then the next one
    shown = await subscription(client, tenant, made["id"])
    assert (shown["failures"], shown["last_error"]) == (0, None)

    hook.answer = lambda n: 500
    third = await create_patient(client, tenant)
    shown = await wait_for_state(client, tenant, made["id"], "disabled")
    assert shown["failures"] == MAX_FAILURES
    assert (
        "HTTP 500" in shown["disabled_reason"] and "3 deliveries failed" in shown["disabled_reason"]
    )
    r = await client.get(
        f"/v1/streams/webhook_subscription/{made['id']}/events",
        headers=tenant.as_role("AUDITOR"),
    )
    disabled = r.json()["events"][-1]
    assert (disabled["type"], disabled["data"]["position"]) == (
        "WebhookSubscriptionDisabled",
        third["position"],
    )
    count = len(hook.received)
    await asyncio.sleep(0.5)
    assert len(hook.received) == count  # disabled: nothing more is tried

    hook.answer = lambda n: 200
    r = await client.post(
        f"/v1/subscriptions/{made['id']}/replay",
        json={"from_position": second["position"]},
        headers=with_key(key),
    )
    assert (r.status_code, r.json()["state"]) == (200, "active"), r.text
    replayed = (await hook.wait_for(count + 2))[count:]
    positions = [verify(made["secret"], d.headers, d.body)["data"]["position"] for d in replayed]
    assert positions == [second["position"], third["position"]]
    assert replayed[0].id == deliveries[3].id  # a replay carries the event's id again
    assert first["position"] < second["position"]


async def test_a_replay_starts_at_a_position_of_the_tenants_events(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    other_tenant: TenantFixture,
    dispatcher: WebhookDispatcher,
    hook: Receiver,
) -> None:
    before = await create_patient(client, tenant)  # before the subscription
    key = await make_key(client, tenant, [EVENTS_READ])
    made = await subscribe(client, key, hook.url)
    after = await register(client, tenant, 2)
    await hook.wait_for(2)
    replay = f"/v1/subscriptions/{made['id']}/replay"
    r = await client.post(replay, json={"from_position": 0}, headers=with_key(key))
    assert r.status_code == 200, r.text
    replayed = (await hook.wait_for(5))[2:]
    positions = [d.event["position"] for d in replayed]
    assert positions == [before["position"], *(p["position"] for p in after)]

    theirs = await create_patient(client, other_tenant)
    for wrong in ({"from_position": theirs["position"]}, {"from_position": -1}, {}):
        r = await client.post(replay, json=wrong, headers=with_key(key))
        assert error_fields(r) == {"from_position"}, r.text
    admin = tenant.as_role("CLINIC_ADMIN")
    deleted = await client.delete(f"/v1/subscriptions/{made['id']}", headers=admin)
    again = await client.delete(f"/v1/subscriptions/{made['id']}", headers=admin)
    assert again.status_code == 200, again.text
    assert again.json()["version"] == deleted.json()["version"] == 3  # nothing more recorded
    r = await client.post(replay, json={"from_position": 0}, headers=with_key(key))
    assert_problem(r, 409, "SUBSCRIPTION_DELETED")


async def test_a_revoked_key_disables_its_subscriptions(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    dispatcher: WebhookDispatcher,
    hook: Receiver,
) -> None:
    key = await make_key(client, tenant, [EVENTS_READ])
    made = await subscribe(client, key, hook.url)
    admin = tenant.as_role("CLINIC_ADMIN")
    assert (await client.delete(f"/v1/api-keys/{key['id']}", headers=admin)).is_success
    await create_patient(client, tenant)
    shown = await wait_for_state(client, tenant, made["id"], "disabled")
    assert "revoked" in shown["disabled_reason"]
    assert hook.received == []


async def test_private_addresses_and_plain_http_are_refused_unless_local_urls_are_allowed(
    client: httpx.AsyncClient, tenant: TenantFixture, app: FastAPI
) -> None:
    key = with_key(await make_key(client, tenant, [EVENTS_READ]))
    allowed = app.state.webhook_rules
    app.state.webhook_rules = OutboundRules(local_allowed=False)
    try:
        for url in (
            "https://10.0.0.1/hooks",
            "https://127.0.0.1:8443/hooks",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hooks",
            "https://[::ffff:10.0.0.1]/hooks",
            "https://localhost/hooks",
            "http://93.184.215.14/hooks",
            "https://user:pw@93.184.215.14/hooks",
        ):
            r = await client.post(
                "/v1/subscriptions", json={"url": url, "types": [REGISTERED]}, headers=key
            )
            assert error_fields(r) == {"url"}, (url, r.text)
    finally:
        app.state.webhook_rules = allowed
    r = await client.post(
        "/v1/subscriptions",
        json={"url": "http://10.0.0.1/hooks", "types": [REGISTERED]},
        headers=key,
    )
    assert r.status_code == 201, r.text  # allowed in test
    assert (await client.delete(f"/v1/subscriptions/{r.json()['id']}", headers=key)).is_success


async def test_caretrail_webhooks_run_delivers_as_its_own_process(
    client: httpx.AsyncClient, tenant: TenantFixture, app: FastAPI, owner_dsn: str, hook: Receiver
) -> None:
    own: WebhookDispatcher = app.state.workers.webhooks
    await own.stop()
    env = {
        **os.environ,
        "DATABASE_URL": owner_dsn,
        "CARETRAIL_JWT_SECRET": JWT_SECRET,
        "CARETRAIL_ENV": "test",
        "CARETRAIL_WEBHOOKS_OWN_PROCESS": "true",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        "webhooks",
        "run",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        key = await make_key(client, tenant, [EVENTS_READ])
        made = await subscribe(client, key, hook.url)
        [patient] = await register(client, tenant, 1)
        [delivery] = await hook.wait_for(1, seconds=90)
        assert (
            verify(made["secret"], delivery.headers, delivery.body)["data"]["position"]
            == (patient["position"])
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(proc.communicate(), 90)
        await own.start()
    assert proc.returncode == 0, output.decode()
