"""The tenant chain against every tampering the auditor's issue lists (issue 18, point 3).

Each test alters the database as its owner can (triggers off, hashes recomputed with the
database's own `event_hash()`), or as anyone holding the runtime role's password can (an INSERT
with triggers on), and shows `verify_tenant` naming the first broken link. The per-stream
database chain, which the owner can recompute, still verifies in those cases: that is the
difference. Each test runs in a database of its own with a head book of its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from audit_helpers import tamper
from infra import fresh_database

from backend.audit.chain import verify_stream
from backend.audit.chainer import Chainer
from backend.audit.heads import HeadBook
from backend.audit.tenant_chain import TenantChainReport, verify_tenant
from backend.eventstore import EventStore, NewEvent, StreamAppend
from backend.eventstore.db import connect, create_pool
from backend.eventstore.scratch import admin_dsn
from backend.settings import with_user

TENANT = uuid.UUID("00000000-0000-4000-8000-0000000000d1")
KIND = "chain-test"
SEED = bytes(range(32))

# Recompute every hash of a stream in version order with the database's own function, as an
# owner covering their tracks would.
REHASH = """
DO $$
DECLARE r record; prev bytea := NULL;
BEGIN
  FOR r IN SELECT * FROM events WHERE stream_id = '{stream}' ORDER BY version LOOP
    prev := event_hash(prev, r.event_id, r.tenant_id, r.stream_type, r.stream_id, r.version,
                       r.event_type, r.schema_version, r.data, r.metadata, r.occurred_at,
                       r.recorded_at);
    UPDATE events SET hash = prev WHERE position = r.position;
  END LOOP;
END $$
"""


@dataclass
class Chained:
    owner: asyncpg.Connection
    store: EventStore
    chainer: Chainer
    book: HeadBook
    dsn: str

    async def verify(self, store: EventStore | None = None) -> TenantChainReport:
        return await verify_tenant(store or self.store, self.book, TENANT, None, None)

    async def stream(self, events: int) -> uuid.UUID:
        stream_id = uuid.uuid4()
        for n in range(events):
            event = NewEvent(
                uuid.uuid4(),
                "Charted",
                {"n": n, "note": f"entry {n}", "pulse": 72.0},
                dt.datetime.now(dt.UTC),
            )
            await self.store.append(TENANT, [StreamAppend(KIND, stream_id, n, (event,))])
        return stream_id

    async def chain(self) -> None:
        while await self.chainer.chain_once():
            pass

    async def stream_verifies(self, stream_id: uuid.UUID) -> bool:
        async with self.store.transaction(TENANT) as conn:
            return (await verify_stream(conn, KIND, stream_id)).broken is None

    async def seq_of(self, stream_id: uuid.UUID, version: int) -> int:
        seq: int = await self.owner.fetchval(
            "SELECT c.seq FROM audit_chain c JOIN events e USING (event_id)"
            " WHERE e.stream_id = $1 AND e.version = $2",
            stream_id,
            version,
        )
        return seq


@pytest.fixture
async def chained(tmp_path: Path) -> AsyncIterator[Chained]:
    async with fresh_database() as dsn:
        pool = await create_pool(with_user(dsn, "caretrail_app"), max_size=2)
        projector = await create_pool(with_user(dsn, "caretrail_projector"), max_size=2)
        owner = await connect(dsn)
        book = HeadBook.from_seed(tmp_path / "heads", SEED)
        try:
            yield Chained(owner, EventStore(pool), Chainer(projector, book, 60.0), book, dsn)
        finally:
            await owner.close()
            await projector.close()
            await pool.close()


def _broken(report: TenantChainReport) -> tuple[int, str] | None:
    b = report.first_broken
    return None if b is None else (b.seq, b.reason)


async def test_an_untouched_chain_verifies_and_its_heads_are_signed(chained: Chained) -> None:
    first, second = await chained.stream(3), await chained.stream(2)
    await chained.chain()
    heads = await chained.chainer.sign_heads()
    report = await chained.verify()
    assert report.valid, report
    assert (report.links, report.heads_checked) == (5, 1)
    assert [(h.seq, h.tenant_id) for h in heads] == [(5, TENANT)]
    assert await chained.seq_of(first, 1) < await chained.seq_of(second, 1)


async def test_deleting_a_streams_last_event_with_the_trigger_disabled(chained: Chained) -> None:
    stream_id = await chained.stream(3)
    await chained.stream(1)
    await chained.chain()
    await tamper(
        chained.owner, "DELETE FROM events WHERE stream_id = $1 AND version = 3", stream_id
    )
    assert await chained.stream_verifies(stream_id)  # the database's own chain does not see it
    assert _broken(await chained.verify()) == (3, "missing_event")


async def test_cutting_the_tail_with_its_links_shows_against_the_signed_head(
    chained: Chained,
) -> None:
    stream_id = await chained.stream(4)
    await chained.chain()
    await chained.chainer.sign_heads()
    await tamper(
        chained.owner, "DELETE FROM events WHERE stream_id = $1 AND version >= 3", stream_id
    )
    await chained.owner.execute("DELETE FROM audit_chain WHERE seq >= 3")
    report = await chained.verify()
    assert _broken(report) == (4, "truncated")
    assert [p.reason for p in report.head_problems] == ["truncated"]


async def test_an_edit_rehashed_with_the_databases_own_event_hash(chained: Chained) -> None:
    stream_id = await chained.stream(4)
    await chained.chain()
    await tamper(
        chained.owner,
        "UPDATE events SET data = jsonb_set(data, '{note}', '\"nothing abnormal\"')"
        " WHERE stream_id = $1 AND version = 2",
        stream_id,
    )
    await tamper(chained.owner, REHASH.format(stream=stream_id))
    assert await chained.stream_verifies(stream_id)
    assert _broken(await chained.verify()) == (2, "link_mismatch")


async def test_a_deletion_with_renumbering_rehashed(chained: Chained) -> None:
    stream_id = await chained.stream(4)
    await chained.chain()
    await tamper(
        chained.owner, "DELETE FROM events WHERE stream_id = $1 AND version = 2", stream_id
    )
    await tamper(
        chained.owner,
        "UPDATE events SET version = version - 1 WHERE stream_id = $1 AND version > 2",
        stream_id,
    )
    await tamper(chained.owner, REHASH.format(stream=stream_id))
    assert await chained.stream_verifies(stream_id)
    assert _broken(await chained.verify()) == (2, "missing_event")


async def test_moving_recorded_at_back_rehashed(chained: Chained) -> None:
    """A late entry made to look known earlier, so that as_of shows it before it was charted."""
    stream_id = await chained.stream(3)
    await chained.chain()
    await tamper(
        chained.owner,
        "UPDATE events SET recorded_at = recorded_at - interval '2 hours'"
        " WHERE stream_id = $1 AND version = 3",
        stream_id,
    )
    await tamper(chained.owner, REHASH.format(stream=stream_id))
    assert await chained.stream_verifies(stream_id)
    assert _broken(await chained.verify()) == (3, "link_mismatch")


async def test_a_forged_insert_by_the_runtime_role_with_triggers_on(chained: Chained) -> None:
    """The triggers stamp and hash it, the chainer links it: it still lacks the writer's mark,
    even one copied from a genuine event."""
    stream_id = await chained.stream(2)
    genuine = await chained.owner.fetchval(
        "SELECT mark FROM events WHERE stream_id = $1 AND version = 2", stream_id
    )
    async with chained.store.transaction(TENANT) as conn:
        await conn.execute(
            "INSERT INTO events (event_id, tenant_id, stream_type, stream_id, version,"
            " event_type, data, occurred_at, mark)"
            " VALUES ($1, $2, $3, $4, 3, 'AddendumAdded', $5, now(), $6)",
            uuid.uuid4(),
            TENANT,
            KIND,
            stream_id,
            {"text": "patient declined the scan"},
            genuine,
        )
    await chained.chain()
    assert await chained.stream_verifies(stream_id)
    assert _broken(await chained.verify()) == (3, "not_written_by_the_application")


async def test_a_deleted_stream_with_its_links(chained: Chained) -> None:
    await chained.stream(2)
    gone = await chained.stream(2)
    await chained.stream(2)
    await chained.chain()
    await tamper(chained.owner, "DELETE FROM events WHERE stream_id = $1", gone)
    await chained.owner.execute("DELETE FROM audit_chain WHERE seq IN (3, 4)")
    assert _broken(await chained.verify()) == (3, "missing_link")
    # Renumbering the links to close the gap does not help: each link covers its place.
    await chained.owner.execute("UPDATE audit_chain SET seq = seq - 2 WHERE seq > 4")
    assert _broken(await chained.verify()) == (3, "link_mismatch")


async def test_an_event_whose_link_was_removed_is_unchained(chained: Chained) -> None:
    await chained.stream(3)
    await chained.chain()
    await chained.owner.execute("DELETE FROM audit_chain WHERE seq = 3")
    report = await chained.verify()
    assert not report.valid
    assert len(report.unchained) == 1


async def test_an_altered_head_file_is_named(chained: Chained) -> None:
    await chained.stream(2)
    await chained.chain()
    (head,) = await chained.chainer.sign_heads()
    path = chained.book.files(TENANT)[-1]
    path.write_bytes(path.read_bytes().replace(b'"seq": 2', b'"seq": 1'))
    report = await chained.verify()
    assert [p.reason for p in report.head_problems] == ["bad_head_signature"]
    assert not report.valid
    assert head.seq == 2


async def test_raising_the_unmarked_boundary_shows(chained: Chained) -> None:
    """Forged events cannot pass for ones stored before writers' marks existed."""
    await chained.stream(2)
    await chained.chain()
    await chained.chainer.sign_heads()
    await chained.owner.execute("UPDATE audit_chain_place SET unmarked_until = 1000000")
    assert _broken(await chained.verify()) == (2, "unmarked_until_changed")


async def test_a_period_checks_only_its_links(chained: Chained) -> None:
    early = await chained.stream(2)
    await chained.chain()
    cut = dt.datetime.now(dt.UTC)
    await chained.stream(3)
    await chained.chain()
    await tamper(chained.owner, "DELETE FROM events WHERE stream_id = $1 AND version = 1", early)
    later = await verify_tenant(chained.store, chained.book, TENANT, cut, None)
    assert later.valid and later.links == 3
    whole = await verify_tenant(chained.store, chained.book, TENANT, None, None)
    assert _broken(whole) == (1, "missing_event")


@asynccontextmanager
async def restored(dump: Path) -> AsyncIterator[EventStore]:
    """A new database restored from `dump` (pg_dump's custom format) as an operator would, and
    a store on it as the runtime role."""
    admin = await admin_dsn("TEST_DATABASE_URL", "test")
    name = f"caretrail_restore_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    await conn.close()
    head, _, tail = admin.partition("?")
    dsn = f"{head.rsplit('/', 1)[0]}/{name}" + (f"?{tail}" if tail else "")
    try:
        await _run("pg_restore", "--exit-on-error", "-d", dsn, str(dump))
        pool = await create_pool(with_user(dsn, "caretrail_app"), max_size=2)
        try:
            yield EventStore(pool)
        finally:
            await pool.close()
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def _run(*command: str) -> None:
    await asyncio.to_thread(subprocess.run, command, check=True)


async def _dump(dsn: str, to: Path) -> Path:
    await _run("pg_dump", "-Fc", "-f", str(to), dsn)
    return to


async def test_restore_drill_against_the_signed_heads(chained: Chained, tmp_path: Path) -> None:
    """A backup restored verifies against the heads signed outside the database: whole if it
    holds everything the latest head saw; if it is older, verify names what it lost."""
    await chained.stream(3)
    await chained.chain()
    await chained.chainer.sign_heads()
    older = await _dump(chained.dsn, tmp_path / "older.dump")
    await chained.stream(2)
    await chained.chain()
    await chained.chainer.sign_heads()
    current = await _dump(chained.dsn, tmp_path / "current.dump")

    async with restored(current) as store:
        report = await chained.verify(store)
        assert report.valid, report
        assert report.latest_head is not None and report.latest_head.seq == 5
    async with restored(older) as store:
        report = await chained.verify(store)
        assert _broken(report) == (5, "truncated")
        assert report.links == 3  # what the backup holds is intact
