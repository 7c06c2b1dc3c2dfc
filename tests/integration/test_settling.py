"""Settling a moment of transaction time: the wait is for writers that could still commit an
event recorded by then, no others, and it is bounded (backend/eventstore/settling.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import asyncpg
import httpx
import pytest
from audit_helpers import slow_change
from e2e_helpers import create_patient
from support import TenantFixture

from backend.eventstore import EventStore
from backend.eventstore.settling import RecordingNotSettled, settled_moment


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def test_a_writer_open_longer_than_the_wait_is_a_refusal_not_an_answer(
    client: httpx.AsyncClient,
    store: EventStore,
    projector_pool: asyncpg.Pool,
    tenant: TenantFixture,
) -> None:
    patient = await create_patient(client, tenant)
    async with slow_change(store, tenant.id, patient["id"], {"sex": "other"}, hold=1.5):
        started = time.monotonic()
        with pytest.raises(RecordingNotSettled) as refused:
            await settled_moment(projector_pool, _now(), wait_seconds=0.3)
        assert 0.3 <= time.monotonic() - started < 1.2
    assert refused.value.status == 503 and refused.value.code == "AS_OF_NOT_SETTLED"


async def test_writers_that_began_after_the_moment_are_not_waited_for(
    client: httpx.AsyncClient,
    store: EventStore,
    projector_pool: asyncpg.Pool,
    tenant: TenantFixture,
) -> None:
    patient = await create_patient(client, tenant)
    before = _now()
    await asyncio.sleep(0.05)
    async with slow_change(store, tenant.id, patient["id"], {"sex": "other"}, hold=1.5):
        started = time.monotonic()
        assert await settled_moment(projector_pool, before, wait_seconds=1.0) == before
        assert time.monotonic() - started < 0.5
