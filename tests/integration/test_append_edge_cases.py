"""EventStore.append cases beyond test_expected_versions.py: both conflict paths of a
multi-stream append, pure version checks, idempotency at every kind of expected version, races
on a new stream, and regressions for defects these tests found."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import asyncpg
import pytest

from backend.eventstore import (
    ANY,
    NO_STREAM,
    AppendResult,
    EventStore,
    NewEvent,
    RecordedEvent,
    StreamAppend,
    WrongExpectedVersion,
)

STREAM_TYPE = "append-test"


def new_event(n: int = 0) -> NewEvent:
    return NewEvent(uuid.uuid4(), "Tested", {"n": n}, dt.datetime.now(dt.UTC), {"by": "test"})


def to(stream_id: uuid.UUID, expected: int, *events: NewEvent) -> StreamAppend:
    return StreamAppend(STREAM_TYPE, stream_id, expected, events)


async def read(store: EventStore, tenant: uuid.UUID, stream_id: uuid.UUID) -> list[RecordedEvent]:
    async with store.transaction(tenant) as conn:
        return await store.read_stream(conn, STREAM_TYPE, stream_id)


async def stream_at(store: EventStore, tenant: uuid.UUID, version: int) -> uuid.UUID:
    """A new stream holding `version` events."""
    stream = uuid.uuid4()
    if version:
        events = tuple(new_event(i) for i in range(version))
        await store.append(tenant, [to(stream, NO_STREAM, *events)])
    return stream


async def test_a_stream_id_is_a_new_stream_in_another_tenant(store: EventStore) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    stream = await stream_at(store, a, 2)

    result = await store.append(b, [to(stream, NO_STREAM, new_event())])

    assert result.version_of(stream) == 1
    assert [e.version for e in await read(store, b, stream)] == [1]
    assert [e.version for e in await read(store, a, stream)] == [1, 2]


async def test_an_append_round_trips_every_field(store: EventStore) -> None:
    tenant, stream, event = uuid.uuid4(), uuid.uuid4(), new_event(7)

    result = await store.append(tenant, [to(stream, NO_STREAM, event)])

    [e] = await read(store, tenant, stream)
    assert (e.event_id, e.tenant_id, e.stream_type, e.stream_id) == (
        event.event_id,
        tenant,
        STREAM_TYPE,
        stream,
    )
    assert (e.version, e.position, e.event_type, e.schema_version) == (
        1,
        result.position,
        "Tested",
        1,
    )
    assert (e.data, e.metadata, e.occurred_at) == ({"n": 7}, {"by": "test"}, event.occurred_at)
    assert e.tx_id > 0 and e.recorded_at is not None


@pytest.mark.parametrize("bad_first", [False, True], ids=["bad-last", "bad-first"])
@pytest.mark.parametrize(
    "wrong",
    # A stale exact version is caught up front (CT409); NO_STREAM on an existing stream only by
    # the unique index on (tenant, stream, version) as the insert runs.
    [3, NO_STREAM],
    ids=["stale-exact", "no-stream-but-exists"],
)
async def test_a_multi_stream_append_with_one_wrong_version_writes_nothing(
    store: EventStore, wrong: int, bad_first: bool
) -> None:
    tenant = uuid.uuid4()
    fresh, existing = uuid.uuid4(), await stream_at(store, tenant, 1)
    good = to(fresh, NO_STREAM, new_event(), new_event())
    bad = to(existing, wrong, new_event())

    with pytest.raises(WrongExpectedVersion) as raised:
        await store.append(tenant, [bad, good] if bad_first else [good, bad])

    assert (raised.value.stream_id, raised.value.expected, raised.value.actual) == (
        existing,
        wrong,
        1,
    )
    assert await read(store, tenant, fresh) == []
    assert [e.version for e in await read(store, tenant, existing)] == [1]


async def test_a_stream_given_no_events_is_checked_at_its_exact_version(store: EventStore) -> None:
    """A StreamAppend without events is a pure version check: stale, it refuses the append."""
    tenant = uuid.uuid4()
    fresh, checked = uuid.uuid4(), await stream_at(store, tenant, 2)

    with pytest.raises(WrongExpectedVersion) as raised:
        await store.append(tenant, [to(fresh, NO_STREAM, new_event()), to(checked, 1)])
    assert (raised.value.stream_id, raised.value.actual) == (checked, 2)
    assert await read(store, tenant, fresh) == []

    result = await store.append(tenant, [to(fresh, NO_STREAM, new_event()), to(checked, 2)])
    assert (result.version_of(fresh), result.version_of(checked)) == (1, 2)
    assert len(await read(store, tenant, checked)) == 2


@pytest.mark.parametrize("expected", ["exact", "any"])
async def test_reappending_on_an_existing_stream_returns_the_original_result(
    store: EventStore, expected: str
) -> None:
    """A retry at an exact version fails the up-front check (CT409), one at ANY the event-id
    index; both must still be recognised as the same append."""
    tenant = uuid.uuid4()
    stream = await stream_at(store, tenant, 2)
    version = 2 if expected == "exact" else ANY
    events = (new_event(1), new_event(2))

    first = await store.append(tenant, [to(stream, version, *events)])
    again = await store.append(tenant, [to(stream, version, *events)])

    assert again == first
    assert first.version_of(stream) == 4
    ids = [e.event_id for e in await read(store, tenant, stream)]
    assert len(ids) == 4 and ids[2:] == [e.event_id for e in events]


async def test_concurrent_identical_multi_stream_appends_return_one_result_and_write_once(
    store: EventStore,
) -> None:
    tenant = uuid.uuid4()
    a, b = uuid.uuid4(), await stream_at(store, tenant, 1)
    appends = [to(a, NO_STREAM, new_event(1), new_event(2)), to(b, 1, new_event(3))]

    results = await asyncio.gather(*(store.append(tenant, appends) for _ in range(10)))

    assert len(set(results)) == 1
    assert (results[0].version_of(a), results[0].version_of(b)) == (2, 2)
    assert [e.event_id for e in await read(store, tenant, a)] == [
        e.event_id for e in appends[0].events
    ]
    assert [e.event_id for e in await read(store, tenant, b)][1:] == [appends[1].events[0].event_id]


async def test_of_concurrent_creators_of_one_stream_exactly_one_wins(store: EventStore) -> None:
    tenant, stream = uuid.uuid4(), uuid.uuid4()
    attempts = [to(stream, NO_STREAM, new_event(i), new_event(i)) for i in range(20)]

    outcomes = await asyncio.gather(
        *(store.append(tenant, [a]) for a in attempts), return_exceptions=True
    )

    winners = [
        (a, o) for a, o in zip(attempts, outcomes, strict=True) if isinstance(o, AppendResult)
    ]
    assert len(winners) == 1, outcomes
    winner, result = winners[0]
    assert result.version_of(stream) == 2
    for lost in (o for o in outcomes if not isinstance(o, AppendResult)):
        assert isinstance(lost, WrongExpectedVersion), repr(lost)
        assert (lost.stream_id, lost.expected, lost.actual) == (stream, NO_STREAM, 2)
    recorded = await read(store, tenant, stream)
    assert [e.event_id for e in recorded] == [e.event_id for e in winner.events]


# Defects found by these tests, now fixed; the tests stay as regressions.


async def test_an_any_append_racing_another_writer_still_appends(
    store: EventStore, app_pool: asyncpg.Pool
) -> None:
    """Deterministic race: the other writer holds version 2 uncommitted while ours computes its
    base, so ours blocks on the unique index and fails once the other commits."""
    tenant = uuid.uuid4()
    stream = await stream_at(store, tenant, 1)
    async with app_pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await store.append(tenant, [to(stream, ANY, new_event())], conn)
        ours = asyncio.create_task(store.append(tenant, [to(stream, ANY, new_event())]))
        await asyncio.sleep(0.3)
        assert not ours.done()  # blocked on the other writer's index entry
        await tx.commit()

    result = await ours

    assert result.version_of(stream) == 3
    assert [e.version for e in await read(store, tenant, stream)] == [1, 2, 3]


async def test_reusing_an_event_id_on_another_stream_is_refused_as_a_duplicate(
    store: EventStore,
) -> None:
    tenant, event = uuid.uuid4(), new_event()
    first, other = uuid.uuid4(), uuid.uuid4()
    await store.append(tenant, [to(first, NO_STREAM, event)])

    with pytest.raises(asyncpg.UniqueViolationError):
        await store.append(tenant, [to(other, NO_STREAM, event)])

    assert await read(store, tenant, other) == []


async def test_a_check_only_stream_expected_absent_but_existing_conflicts(
    store: EventStore,
) -> None:
    tenant = uuid.uuid4()
    fresh, existing = uuid.uuid4(), await stream_at(store, tenant, 2)

    with pytest.raises(WrongExpectedVersion):
        await store.append(tenant, [to(fresh, NO_STREAM, new_event()), to(existing, NO_STREAM)])

    assert await read(store, tenant, fresh) == []
