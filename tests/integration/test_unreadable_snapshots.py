"""A stream whose sealed fields no longer open is never snapshotted: a snapshot would carry the
"[unreadable]" values on without the flag, and past states read from it would hide the altered
event. In a database of its own (the owner alters an event)."""

from __future__ import annotations

import datetime as dt
import uuid

from audit_helpers import ALTER_CIPHERTEXT, tamper
from infra import fresh_database

from backend.auth.principal import Principal, Role
from backend.eventstore import EventStore
from backend.eventstore.db import connect, create_pool
from backend.eventstore.snapshots import SnapshotPolicy
from backend.handling import RequestContext, run_command
from backend.loading import fold_stream
from backend.patients import service
from backend.patients.model import PATIENT
from backend.settings import with_user


async def test_a_command_on_a_stream_with_an_unreadable_event_writes_no_snapshot() -> None:
    tenant, patient_id = uuid.uuid4(), uuid.uuid4()
    ctx = RequestContext(
        Principal("nurse-1", tenant, frozenset({Role.NURSE})),
        "req",
        "corr",
        dt.datetime.now(dt.UTC),
    )
    details = {
        "given_name": "Ada",
        "family_name": "Byron",
        "birth_date": dt.date(1815, 12, 10),
        "sex": "female",
        "specialty_data": {},
    }
    async with fresh_database() as dsn:
        pool = await create_pool(with_user(dsn, "caretrail_app"), max_size=2)
        owner = await connect(dsn)
        try:
            store = EventStore(pool, SnapshotPolicy({"patient": 2}))
            await run_command(
                store, ctx, tenant, lambda s: service.register_patient(s, patient_id, details)
            )
            await tamper(owner, ALTER_CIPHERTEXT, patient_id)
            await run_command(
                store,
                ctx,
                tenant,
                lambda s: service.change_details(s, patient_id, {"phone": "+1 212 555 0100"}),
            )
            async with store.transaction(tenant) as conn:
                snapshots = await conn.fetchval(
                    "SELECT count(*) FROM snapshots WHERE stream_id = $1", patient_id
                )
                folded = await fold_stream(conn, PATIENT, patient_id)
            assert snapshots == 0  # version 2 crossed the interval of 2
            assert [e.version for e in folded.unreadable] == [1]
            assert (folded.state.given_name, folded.state.phone) == ("[unreadable]", "+12125550100")
        finally:
            await owner.close()
            await pool.close()
