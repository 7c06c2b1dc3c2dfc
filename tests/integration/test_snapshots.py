"""Snapshots in the store: written by commands every N events, and loads from them (including
temporal cuts) equal a full replay."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import asyncpg
import pytest

from backend.auth.principal import Principal, Role
from backend.eventstore import EventStore, RecordedEvent
from backend.eventstore.snapshots import SnapshotPolicy
from backend.handling import RequestContext, run_command
from backend.kernel.events import revive
from backend.loading import fold_stream
from backend.patients import service
from backend.patients.model import PATIENT
from backend.privacy import keys

EVERY = 4


@pytest.fixture
def snapshotting(app_pool: asyncpg.Pool) -> EventStore:
    return EventStore(app_pool, SnapshotPolicy({"patient": EVERY}))


def _ctx(tenant: uuid.UUID) -> RequestContext:
    principal = Principal("nurse-1", tenant, frozenset({Role.NURSE}))
    return RequestContext(principal, "req", "corr", dt.datetime.now(dt.UTC))


async def _patient_with_changes(store: EventStore, tenant: uuid.UUID, changes: int) -> uuid.UUID:
    patient_id = uuid.uuid4()
    details = {
        "given_name": "Ada",
        "family_name": "Byron",
        "birth_date": dt.date(1815, 12, 10),
        "sex": "female",
        "specialty_data": {},
    }
    await run_command(
        store, _ctx(tenant), tenant, lambda s: service.register_patient(s, patient_id, details)
    )
    for n in range(changes):
        change = {"family_name": f"Lovelace {n}"}
        await run_command(
            store,
            _ctx(tenant),
            tenant,
            lambda s, c=change: service.change_details(s, patient_id, c),
        )
    return patient_id


async def test_commands_write_a_snapshot_every_n_events(snapshotting: EventStore) -> None:
    tenant = uuid.uuid4()
    patient_id = await _patient_with_changes(snapshotting, tenant, 10)  # versions 1..11
    async with snapshotting.transaction(tenant) as conn:
        versions = await conn.fetch(
            "SELECT version FROM snapshots WHERE stream_id = $1 ORDER BY version", patient_id
        )
        folded = await fold_stream(conn, PATIENT, patient_id)
        events = await keys.unseal(
            conn, await snapshotting.read_stream(conn, "patient", patient_id)
        )
    assert [r["version"] for r in versions] == [4, 8]
    assert (folded.version, folded.replayed) == (11, 3)
    assert folded.state == PATIENT.fold(revive(e) for e in events)
    assert folded.position == events[-1].position


async def test_temporal_cuts_from_snapshots_equal_full_replay(snapshotting: EventStore) -> None:
    tenant = uuid.uuid4()
    patient_id = await _patient_with_changes(snapshotting, tenant, 5)
    await asyncio.sleep(0.02)
    middle = dt.datetime.now(dt.UTC)
    await asyncio.sleep(0.02)
    for n in range(5):
        change = {"given_name": f"Augusta {n}"}
        await run_command(
            snapshotting,
            _ctx(tenant),
            tenant,
            lambda s, c=change: service.change_details(s, patient_id, c),
        )
    async with snapshotting.transaction(tenant) as conn:
        events = await keys.unseal(
            conn, await snapshotting.read_stream(conn, "patient", patient_id)
        )
        for cut in ({"up_to_version": 9}, {"recorded_by": middle}, {"occurred_by": middle}):
            folded = await fold_stream(conn, PATIENT, patient_id, **cut)
            expected = [e for e in events if _inside(e, cut)]
            assert folded.state == PATIENT.fold(revive(e) for e in expected), cut
            assert folded.version == expected[-1].version


def _inside(event: RecordedEvent, cut: dict[str, Any]) -> bool:
    if "up_to_version" in cut:
        return bool(event.version <= cut["up_to_version"])
    if "recorded_by" in cut:
        return bool(event.recorded_at <= cut["recorded_by"])
    return bool(event.occurred_at <= cut["occurred_by"])


async def test_a_snapshot_of_another_format_is_ignored(snapshotting: EventStore) -> None:
    tenant = uuid.uuid4()
    patient_id = await _patient_with_changes(snapshotting, tenant, 5)
    newer = PATIENT.__class__(
        "patient",
        PATIENT.initial,
        PATIENT.evolve,
        PATIENT.view,
        snapshot_version=PATIENT.snapshot_version + 1,
    )
    async with snapshotting.transaction(tenant) as conn:
        folded = await fold_stream(conn, newer, patient_id)
    assert (folded.version, folded.replayed) == (6, 6)
