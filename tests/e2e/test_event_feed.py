"""The partners' event feed, GET /v1/events: the tenant's events once each, in commit order,
even one whose transaction commits after later positions were served; never another tenant's;
filtered by type; personal fields only for a key with patients:read, redacted once erased."""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

import httpx
import orjson
from e2e_helpers import assert_problem, create_patient, error_fields, now
from partner_helpers import make_key, with_key
from support import TenantFixture

from backend.auth.scopes import EVENTS_READ, PATIENTS_READ, SCOPES
from backend.eventstore import NO_STREAM, EventStore, NewEvent, StreamAppend

PROBE = "feed-test"
"""A stream type no projection or reaction follows."""
WAIT_SECONDS = 10.0
"""How long a replay may wait for events below the horizon (another session may hold it)."""

Item = dict[str, Any]


async def replay(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    cursor: str | None = None,
    limit: int = 3,
    **params: Any,
) -> tuple[list[Item], str]:
    """Every page from `cursor` while the feed says there is more: the items and the cursor."""
    items: list[Item] = []
    while True:
        asked = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        r = await client.get("/v1/events", params=asked, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        assert body["resume_cursor"]
        if body["next_cursor"] is None:  # the last page for now: go on later from resume_cursor
            return items, body["resume_cursor"]
        assert body["next_cursor"] == body["resume_cursor"]
        cursor = body["next_cursor"]


async def replay_until(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    positions: set[int],
    cursor: str | None = None,
    **params: Any,
) -> tuple[list[Item], str]:
    """Replays again from where the last one stopped until every position was read."""
    items: list[Item] = []
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while not positions <= {i["position"] for i in items}:
        assert asyncio.get_running_loop().time() < deadline, "the feed never served them"
        more, cursor = await replay(client, headers, cursor, **params)
        items += more
        if not more:
            await asyncio.sleep(0.02)
    return items, cursor


async def commit_order(store: EventStore, tenant: TenantFixture) -> list[int]:
    """The tenant's committed events' positions in commit order, as the store has them."""
    async with store.transaction(tenant.id) as conn:
        rows = await conn.fetch("SELECT position FROM events ORDER BY tx_id, position")
    return [r["position"] for r in rows]


def positions(items: list[Item]) -> list[int]:
    return [i["position"] for i in items]


async def test_a_replay_gets_every_event_once_in_commit_order_even_one_committed_late(
    client: httpx.AsyncClient, tenant: TenantFixture, store: EventStore
) -> None:
    key = with_key(await make_key(client, tenant, [EVENTS_READ]))
    await create_patient(client, tenant)
    first, cursor = await replay_until(client, key, set(await commit_order(store, tenant)))

    late = NewEvent(uuid.uuid4(), "FeedProbe", {"n": 1}, now())
    async with store.transaction(tenant.id) as conn:
        held = await store.append(
            tenant.id, [StreamAppend(PROBE, uuid.uuid4(), NO_STREAM, (late,))], conn
        )
        patient = await create_patient(client, tenant)
        assert patient["position"] > held.position
        meanwhile, cursor = await replay(client, key, cursor)
        assert patient["position"] not in positions(meanwhile)

    wanted = {held.position, patient["position"]}
    after, _ = await replay_until(client, key, wanted, cursor)
    served = positions(after)
    assert served.index(held.position) < served.index(patient["position"])

    everything = first + meanwhile + after
    assert len(set(positions(everything))) == len(everything), "an event served twice"
    store_order = await commit_order(store, tenant)
    assert positions(everything) == store_order[: len(everything)]
    again, _ = await replay(client, key, limit=500)
    assert positions(again)[: len(everything)] == positions(everything)
    assert [i["type"] for i in after if i["position"] == held.position] == ["FeedProbe"]


async def test_the_feed_serves_its_tenant_alone(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    other_tenant: TenantFixture,
    store: EventStore,
) -> None:
    theirs = await create_patient(client, other_tenant)
    ours = await create_patient(client, tenant)
    key = with_key(await make_key(client, tenant, [EVENTS_READ]))
    items, _ = await replay_until(client, key, {ours["position"]})
    assert theirs["id"] not in {i["stream_id"] for i in items}
    assert set(positions(items)) <= set(await commit_order(store, tenant))
    assert theirs["position"] not in positions(items)

    item = next(i for i in items if i["position"] == ours["position"])
    assert set(item) == {
        "position",
        "type",
        "stream_type",
        "stream_id",
        "version",
        "data",
        "occurred_at",
        "recorded_at",
    }
    assert (item["type"], item["stream_type"], item["stream_id"], item["version"]) == (
        "PatientRegistered",
        "patient",
        ours["id"],
        1,
    )


async def test_types_filter_the_feed_repeated_or_comma_separated(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant)
    r = await client.patch(
        f"/v1/patients/{patient['id']}",
        json={"family_name": "Quill"},
        headers=tenant.as_role("NURSE"),
    )
    assert r.status_code == 200, r.text
    changed = r.json()["position"]
    key = with_key(await make_key(client, tenant, [EVENTS_READ]))

    only_changes, _ = await replay_until(client, key, {changed}, types="PatientDetailsChanged")
    assert {i["type"] for i in only_changes} == {"PatientDetailsChanged"}
    both = {"PatientRegistered", "PatientDetailsChanged"}
    for types in (",".join(sorted(both)), sorted(both)):
        items, _ = await replay_until(client, key, {patient["position"], changed}, types=types)
        assert {i["type"] for i in items} == both

    for wrong in ("NoSuchEvent", ",", "PatientRegistered,NoSuchEvent"):
        r = await client.get("/v1/events", params={"types": wrong}, headers=key)
        assert error_fields(r) == {"types"}, r.text


async def test_personal_fields_only_with_patients_read_and_redacted_once_erased(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    patient = await create_patient(client, tenant, given_name="Zenobia", phone="+44 20 7946 0000")
    sees = with_key(await make_key(client, tenant, [EVENTS_READ, PATIENTS_READ]))
    blind = with_key(await make_key(client, tenant, [EVENTS_READ]))
    wanted = {patient["position"]}
    registered = {"types": "PatientRegistered"}

    def data_of(items: list[Item]) -> dict[str, Any]:
        data: dict[str, Any] = next(i for i in items if i["stream_id"] == patient["id"])["data"]
        return data

    opened = data_of((await replay_until(client, sees, wanted, **registered))[0])
    assert (opened["given_name"], opened["phone"]) == ("Zenobia", "+442079460000")
    withheld = data_of((await replay_until(client, blind, wanted, **registered))[0])
    assert withheld == {"patient_id": patient["id"]}
    auditor = tenant.as_role("AUDITOR")
    assert data_of((await replay_until(client, auditor, wanted, **registered))[0]) == opened

    r = await client.post(
        f"/v1/patients/{patient['id']}/erase",
        json={"reason": "patient's request (GDPR art. 17)"},
        headers=tenant.as_role("CLINIC_ADMIN"),
    )
    assert r.status_code == 200, r.text
    erased = data_of((await replay_until(client, sees, wanted, **registered))[0])
    assert (erased["given_name"], erased["family_name"], erased["phone"]) == (
        "[erased]",
        "[erased]",
        None,
    )
    items, _ = await replay_until(client, sees, {r.json()["position"]}, types="PatientErased")
    assert [i["stream_id"] for i in items] == [patient["id"]]


async def test_the_feed_needs_events_read_and_checks_its_parameters(
    client: httpx.AsyncClient, tenant: TenantFixture
) -> None:
    lacking = with_key(await make_key(client, tenant, SCOPES - {EVENTS_READ}))
    assert_problem(await client.get("/v1/events", headers=lacking), 403, "INSUFFICIENT_SCOPE")
    r = await client.get("/v1/events", headers=tenant.as_role("DOCTOR"))
    assert_problem(r, 403, "FORBIDDEN")
    for role in ("AUDITOR", "CLINIC_ADMIN"):
        assert (await client.get("/v1/events", headers=tenant.as_role(role))).status_code == 200

    key = with_key(await make_key(client, tenant, [EVENTS_READ]))
    for wrong in ({"limit": 0}, {"limit": 501}, {"since": 1}):
        r = await client.get("/v1/events", params=wrong, headers=key)
        assert error_fields(r) == set(wrong), r.text
    elsewhere = [["a", "b"], ["-1", "0"], [str(uuid.uuid4())], "not a cursor"]
    for values in elsewhere:
        cursor = base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")
        r = await client.get("/v1/events", params={"cursor": cursor}, headers=key)
        assert error_fields(r) == {"cursor"}, r.text
