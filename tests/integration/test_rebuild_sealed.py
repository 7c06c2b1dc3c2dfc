"""A bulk rebuild opens sealed fields from the stored data taken apart by PostgreSQL (the data
without its sealed member, the member's nonce and ciphertext): every way a sealed member can be
altered reads as the per-batch path (`keys.unseal`) reads it, "[unreadable]" without parking,
an erased patient as "[erased]", an intact one as stored. In a database of its own (the owner
alters events)."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
from audit_helpers import tamper
from infra import fresh_database

from backend.eventstore import NO_STREAM, EventStore, NewEvent, StreamAppend
from backend.eventstore.db import connect, create_pool
from backend.kernel.events import to_data
from backend.patients.events import PatientDetailsChanged, PatientRegistered
from backend.patients.projections import PATIENTS
from backend.privacy import keys
from backend.privacy.sealing import sealed_data
from backend.settings import with_user
from projections.catchup import CatchUpRunner
from projections.rebuild import rebuild

# How a registration's sealed member is altered (`$1`: the patient), by the name it goes by.
ALTERATIONS = {
    "intact": None,
    "no nonce": "data #- '{sealed,nonce}'",
    "no ciphertext": "data #- '{sealed,ct}'",
    "member a string": "jsonb_set(data, '{sealed}', '\"x\"')",
    "member an array": "jsonb_set(data, '{sealed}', '[1, 2]')",
    "nonce a number": "jsonb_set(data, '{sealed,nonce}', '5')",
    "nonce an object": "jsonb_set(data, '{sealed,nonce}', '{\"a\": \"AAAA\"}')",
    "nonce not base64": "jsonb_set(data, '{sealed,nonce}', '\"!!\"')",
    "ciphertext longer": "jsonb_set(data, '{sealed,ct}', to_jsonb('AA' || (data#>>'{sealed,ct}')))",
}


def _stored(event: PatientRegistered | PatientDetailsChanged, key: bytes) -> NewEvent:
    event_id, data = uuid.uuid4(), to_data(event)
    data = sealed_data(type(event), data, key, event_id)
    return NewEvent(
        event_id,
        event.type_name(),
        data,
        dt.datetime.now(dt.UTC),
        schema_version=event.schema_version,
    )


async def _rows(pool: asyncpg.Pool) -> dict[uuid.UUID, asyncpg.Record]:
    return {r["patient_id"]: r for r in await pool.fetch("SELECT * FROM rm_patients")}


async def test_altered_sealed_members_read_as_the_per_batch_path_reads_them() -> None:
    tenant = uuid.uuid4()
    patients = {name: uuid.uuid4() for name in [*ALTERATIONS, "erased", "no key row"]}
    async with fresh_database() as dsn:
        app = await create_pool(with_user(dsn, "caretrail_app"), max_size=2)
        projector = await create_pool(with_user(dsn, "caretrail_projector"), max_size=2)
        owner = await connect(dsn)
        try:
            store = EventStore(app)
            async with store.transaction(tenant) as conn:
                appends = []
                for n, patient in enumerate(patients.values()):
                    key = await keys.data_key_for_writing(conn, tenant, patient)
                    registered = PatientRegistered(
                        patient, f"Given{n}", "Family", dt.date(1980, 1, 1), "unknown",
                        "+12125550100", None, {}, "+1 212 555 0100",
                    )  # fmt: skip
                    changed = PatientDetailsChanged(patient, {"email": f"p{n}@example.org"})
                    events = (_stored(registered, key), _stored(changed, key))
                    appends.append(StreamAppend("patient", patient, NO_STREAM, events))
                await store.append(tenant, appends, conn)
                await keys.destroy(conn, tenant, patients["erased"])
            await owner.execute(
                "DELETE FROM subject_keys WHERE subject_id = $1", patients["no key row"]
            )
            for name, altered in ALTERATIONS.items():
                if altered is not None:
                    update = (
                        f"UPDATE events SET data = {altered} WHERE stream_id = $1 AND version = 1"
                    )
                    await tamper(owner, update, patients[name])

            runner = CatchUpRunner(projector, PATIENTS)
            while await runner.step():
                pass
            assert (await runner.checkpoint()).state == "running"
            live = await _rows(projector)

            await rebuild(dsn, with_user(dsn, "caretrail_projector"), PATIENTS, lambda *_: None)
            rebuilt = await _rows(projector)
        finally:
            await owner.close()
            await projector.close()
            await app.close()

    assert rebuilt == live
    names = {name: rebuilt[patient]["given_name"] for name, patient in patients.items()}
    assert names.pop("intact") == "Given0"
    assert names.pop("erased") == "[erased]"
    assert set(names.values()) == {"[unreadable]"}, names
    emails = {name: rebuilt[patient]["email"] for name, patient in patients.items()}
    assert emails["nonce a number"] == f"p{list(patients).index('nonce a number')}@example.org"
    assert emails["erased"] is None
