"""Expected versions, atomic multi-stream appends and idempotency by event id, on PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest

from backend.eventstore import ANY, NO_STREAM, EventStore, NewEvent, StreamAppend
from backend.eventstore import WrongExpectedVersion as Conflict


def event(kind: str = "Noted", **data: object) -> NewEvent:
    return NewEvent(uuid.uuid4(), kind, dict(data), dt.datetime.now(dt.UTC), {"actor": "test"})


async def versions(store: EventStore, tenant: uuid.UUID, stream: uuid.UUID) -> list[int]:
    async with store.transaction(tenant) as conn:
        return [e.version for e in await store.read_stream(conn, "probe", stream)]


async def test_no_stream_creates_and_then_conflicts_with_the_actual_version(
    store: EventStore,
) -> None:
    tenant, stream = uuid.uuid4(), uuid.uuid4()
    first = await store.append(tenant, [StreamAppend("probe", stream, NO_STREAM, (event(),))])
    assert first.version_of(stream) == 1
    with pytest.raises(Conflict) as caught:
        await store.append(tenant, [StreamAppend("probe", stream, NO_STREAM, (event(),))])
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    assert await versions(store, tenant, stream) == [1]


async def test_exact_version_appends_only_at_that_version(store: EventStore) -> None:
    tenant, stream = uuid.uuid4(), uuid.uuid4()
    await store.append(tenant, [StreamAppend("probe", stream, NO_STREAM, (event(), event()))])
    for stale in (1, 3):
        with pytest.raises(Conflict) as caught:
            await store.append(tenant, [StreamAppend("probe", stream, stale, (event(),))])
        assert (caught.value.expected, caught.value.actual) == (stale, 2)
    result = await store.append(tenant, [StreamAppend("probe", stream, 2, (event(),))])
    assert result.version_of(stream) == 3
    assert await versions(store, tenant, stream) == [1, 2, 3]


async def test_exact_version_on_a_missing_stream_conflicts(store: EventStore) -> None:
    with pytest.raises(Conflict) as caught:
        await store.append(uuid.uuid4(), [StreamAppend("probe", uuid.uuid4(), 4, (event(),))])
    assert caught.value.actual == 0


async def test_any_appends_whatever_the_version(store: EventStore) -> None:
    tenant, stream = uuid.uuid4(), uuid.uuid4()
    got = [
        (await store.append(tenant, [StreamAppend("probe", stream, ANY, (event(),))]))
        for _ in range(3)
    ]
    assert [r.version_of(stream) for r in got] == [1, 2, 3]
    assert got[0].position < got[1].position < got[2].position


async def test_events_of_one_append_get_consecutive_versions_and_increasing_positions(
    store: EventStore,
) -> None:
    tenant, stream = uuid.uuid4(), uuid.uuid4()
    batch = tuple(event(n=i) for i in range(5))
    result = await store.append(tenant, [StreamAppend("probe", stream, NO_STREAM, batch)])
    async with store.transaction(tenant) as conn:
        stored = await store.read_stream(conn, "probe", stream)
    assert [e.version for e in stored] == [1, 2, 3, 4, 5]
    assert [e.data["n"] for e in stored] == [0, 1, 2, 3, 4]
    positions = [e.position for e in stored]
    assert positions == sorted(positions) and result.position == positions[-1]


async def test_a_conflict_on_one_stream_writes_nothing_to_the_other(store: EventStore) -> None:
    tenant, a, b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await store.append(tenant, [StreamAppend("probe", b, NO_STREAM, (event(),))])
    with pytest.raises(Conflict) as caught:
        await store.append(
            tenant,
            [
                StreamAppend("probe", a, NO_STREAM, (event(),)),
                StreamAppend("probe", b, NO_STREAM, (event(),)),
            ],
        )
    assert caught.value.stream_id == b
    assert await versions(store, tenant, a) == []
    assert await versions(store, tenant, b) == [1]


async def test_two_streams_in_one_append_commit_together(store: EventStore) -> None:
    tenant, a, b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await store.append(tenant, [StreamAppend("probe", b, NO_STREAM, (event(),))])
    result = await store.append(
        tenant,
        [
            StreamAppend("probe", a, NO_STREAM, (event(), event())),
            StreamAppend("probe", b, 1, (event(),)),
        ],
    )
    assert (result.version_of(a), result.version_of(b)) == (2, 2)
    assert await versions(store, tenant, a) == [1, 2]
    assert await versions(store, tenant, b) == [1, 2]


async def test_repeating_an_append_returns_the_original_result(store: EventStore) -> None:
    tenant, stream = uuid.uuid4(), uuid.uuid4()
    batch = (event(), event())
    first = await store.append(tenant, [StreamAppend("probe", stream, NO_STREAM, batch)])
    again = await store.append(tenant, [StreamAppend("probe", stream, NO_STREAM, batch)])
    assert again == first
    assert await versions(store, tenant, stream) == [1, 2]


async def test_concurrent_identical_appends_write_once(store: EventStore) -> None:
    tenant, stream = uuid.uuid4(), uuid.uuid4()
    append = StreamAppend("probe", stream, NO_STREAM, (event(),))
    results = await asyncio.gather(*(store.append(tenant, [append]) for _ in range(10)))
    assert len(set(results)) == 1
    assert await versions(store, tenant, stream) == [1]


async def test_concurrent_writers_at_one_version_exactly_one_wins(store: EventStore) -> None:
    tenant, stream = uuid.uuid4(), uuid.uuid4()
    await store.append(tenant, [StreamAppend("probe", stream, NO_STREAM, (event(),))])
    outcomes = await asyncio.gather(
        *(store.append(tenant, [StreamAppend("probe", stream, 1, (event(),))]) for _ in range(12)),
        return_exceptions=True,
    )
    losers = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(losers) == 11 and len(outcomes) - len(losers) == 1
    assert all(o.actual == 2 for o in losers)
    assert await versions(store, tenant, stream) == [1, 2]
