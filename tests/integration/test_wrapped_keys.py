"""The one key query of a batch or a rebuild's chunk (`keys.wrapped_keys`): each subject asked
for once, whatever the repeats; a key, or None once erased; nothing for a subject without a key
row or an event naming none, so that those read as unreadable."""

from __future__ import annotations

import uuid

import asyncpg

from backend.eventstore import EventStore
from backend.privacy import keys


async def test_each_subject_s_key_erased_or_missing(
    store: EventStore, projector_pool: asyncpg.Pool
) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    kept, erased, unknown = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with store.transaction(tenant) as conn:
        kept_key = await keys.data_key_for_writing(conn, tenant, kept)
        await keys.data_key_for_writing(conn, tenant, erased)
        await keys.destroy(conn, tenant, erased)
    async with store.transaction(other) as conn:
        other_key = await keys.data_key_for_writing(conn, other, kept)  # same id, other tenant

    subjects: list[keys.Subject] = [
        (tenant, kept),
        (tenant, None),  # the event names no subject
        (tenant, erased),
        (tenant, unknown),
        (other, kept),
        (tenant, kept),
    ]
    wrapped = await keys.wrapped_keys(projector_pool, subjects)

    assert set(wrapped) == {(tenant, kept), (tenant, erased), (other, kept)}
    assert wrapped[(tenant, erased)] is None
    stored = wrapped[(tenant, kept)]
    assert stored is not None and keys.master().unwrap(stored, tenant, kept) == kept_key
    stored = wrapped[(other, kept)]
    assert stored is not None and keys.master().unwrap(stored, other, kept) == other_key


async def test_no_subject_with_a_key_row_asks_for_nothing(projector_pool: asyncpg.Pool) -> None:
    tenant = uuid.uuid4()
    assert await keys.wrapped_keys(projector_pool, []) == {}
    assert await keys.wrapped_keys(projector_pool, [(tenant, None)]) == {}
    assert await keys.wrapped_keys(projector_pool, [(tenant, uuid.uuid4())]) == {}
