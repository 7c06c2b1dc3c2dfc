"""rm_worklist: per tenant, one row per patient, plugin and recall (backend/specialties/recalls.py)
with the facts the recall needs and when it falls due; `GET /v1/worklist` lists the rows due.
A row's key is (tenant_id, entry_id), entry_id derived from the patient, plugin and recall, as
every read model's key is the tenant and one column.

Fed by the patient's specialty data (their record, their visits' and admissions' data and plugin
events, which carry `patient_id`; events recorded before they carried it are not seen). The
recalls are those of the plugin version serving where the projection runs, so after changing
a plugin's recalls, rebuild the worklist (`caretrail projections rebuild worklist`).

A duplicate record merged into another (PatientMerged) has no rows of its own: the rows are
the record kept's (the last of a chain of merges), and each holds, beside the kept record's
own facts, each merged duplicate's part (`facts["merged"][<its id>]`); the recall is due on
all of them together (recalls.combined), so the person is listed once. Which record a
patient's facts are kept under is read from the marker row the merge leaves (`plugin` '',
never listed); the merge writes it, and moves the duplicate's rows, holding the tenant's
merge lock exclusively, while every other writer holds it shared from before it reads the
markers until it commits: what it read holds while it writes.

An erased record's part goes, whatever order its events arrive in: its key is gone, so its
part is taken out of the rows it is kept in and nothing of its is noted again. An erased
patient never merged has no rows; a kept record erased keeps its duplicates' parts (their
records are not erased), and its rows are never due.

A row gathers events of several streams (the patient's, each visit's and admission's), which
Kafka carries on different partitions: they arrive in any order across streams, and two
projector processes may apply two of them at once. The facts merge in any order; a row is
read, merged and written under a transaction lock on its patient, so that two writers never
both start from the same facts and one of them loses its merge.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import asyncpg

from backend.eventstore import RecordedEvent
from backend.kernel import streams
from backend.privacy import keys
from backend.specialties import recalls, registry
from backend.specialties.model import Plugin

ERASURE = "PatientErased"
MERGE = "PatientMerged"
MERGED = "merged"
"""The key of a row's facts holding each merged duplicate's part, by its patient id."""
MERGED_INTO = "merged_into"
"""The `recall` of a merge's marker row (its `plugin` is '', no plugin's name)."""
MAX_MERGES = 32
"""How long a chain of merges is followed (each record merged into the next)."""
WANTED = frozenset(
    {
        "PatientRegistered",
        "PatientDetailsChanged",
        ERASURE,
        MERGE,
        "SpecialtyDataRecorded",
        "SpecialtyEventRecorded",
    }
)
Row = tuple[UUID, UUID, str, str]
"""(tenant_id, patient_id, plugin, recall)"""
Patient = tuple[UUID, UUID]
"""(tenant_id, patient_id)"""


@dataclass(frozen=True)
class WorklistProjection:
    name: str = "worklist"
    table: str = "rm_worklist"

    def wants(self, stream_type: str, event_type: str) -> bool:
        return event_type in WANTED and stream_type in (
            streams.PATIENT,
            streams.VISIT,
            streams.ADMISSION,
        )

    @staticmethod
    def view_of(row: asyncpg.Record) -> dict[str, Any]:
        return {
            "patient_id": row["patient_id"],
            "plugin": row["plugin"],
            "recall": row["recall"],
            "name": row["name"],
            "message": row["message"],
            "due_at": row["due_at"],
        }

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        mine = [e for e in events if self.wants(e.stream_type, e.event_type)]
        if not mine:
            return
        mine = await keys.unseal(conn, mine)
        plugins = {n: p for n, p in registry.active().catalog.plugins.items() if p.recalls}
        merges = [e for e in mine if e.event_type == MERGE]
        noted = [
            (e, patient, values)
            for e in mine
            if (patient := _patient_of(e)) is not None
            and ((values := _plugin_values(e, plugins)) or e.event_type == ERASURE)
        ]
        if not noted and not merges:
            return  # nothing for any recall (most registrations): no lock, no reads
        await self._lock_tenants(conn, {e.tenant_id for e, _, _ in noted}, merges)
        for merge in merges:
            await self._merged(conn, merge, plugins)
        if not noted:
            return
        patients = {(e.tenant_id, p) for e, p, _ in noted}
        roots = await self._roots(conn, patients)
        kept_under = set(roots.values())
        await self._lock(conn, patients | kept_under)
        erased = await self._erased(conn, patients | kept_under)
        facts = await self._facts(conn, kept_under)
        for gone in erased:  # its own part goes, wherever it is kept (others' parts stay)
            facts = _without(facts, roots.get(gone, gone), gone[1])
        for event, patient, given in noted:
            source = (event.tenant_id, patient)
            if source in erased:
                continue
            root = roots[source]
            for name, values in given.items():
                for recall in plugins[name].recalls:
                    key = (event.tenant_id, root[1], name, recall.id)
                    held = facts.get(key, {})
                    new = _noted(recall, _part(held, patient, root[1]), event, values)
                    if new:  # no row for a patient without the plugin's values
                        facts[key] = _with_part(held, patient, root[1], new)
        await self._save(conn, facts, plugins, erased)

    async def _lock_tenants(
        self, conn: asyncpg.Connection, tenants: set[UUID], merges: Sequence[RecordedEvent]
    ) -> None:
        """Which record a patient's facts are kept under (their merges: the marker rows) changes
        only under the tenant's merge lock held exclusively; every other writer holds it shared
        from before it looks the merges up until it commits, so what it looked up holds while
        it writes. Taken before any patient's lock, in one order: no two writers deadlock."""
        merging = {e.tenant_id for e in merges}
        ordered = sorted(tenants | merging)
        await conn.execute(
            "SELECT count(CASE WHEN x THEN pg_advisory_xact_lock(hashtextextended(k, 0))"
            " ELSE pg_advisory_xact_lock_shared(hashtextextended(k, 0)) END)"
            " FROM unnest($1::text[], $2::bool[]) AS l(k, x)",
            [f"{self.table}:{t}:merges" for t in ordered],
            [t in merging for t in ordered],
        )

    async def _roots(
        self, conn: asyncpg.Connection, patients: set[Patient]
    ) -> dict[Patient, Patient]:
        """The record each patient's facts are kept under: their own, or the one kept at the end
        of their merges (a duplicate merged into a record that was merged in turn)."""
        roots = {p: p for p in patients}
        asked = set(patients)
        for _ in range(MAX_MERGES):
            into = await self._into(conn, asked)
            if not into:
                break
            roots = {p: into.get(r, r) for p, r in roots.items()}
            asked = set(into.values())
        return roots

    async def _into(
        self, conn: asyncpg.Connection, patients: set[Patient]
    ) -> dict[Patient, Patient]:
        """The record each of these was merged into, for those merged (their marker rows)."""
        rows = await conn.fetch(
            f"SELECT t.tenant_id, t.patient_id, t.facts FROM {self.table} t"
            " JOIN unnest($1::uuid[], $2::uuid[]) AS p(tenant_id, entry_id)"
            " ON t.tenant_id = p.tenant_id AND t.entry_id = p.entry_id",
            [t for t, _ in patients],
            [merge_id(p) for _, p in patients],
        )
        return {
            (r["tenant_id"], r["patient_id"]): (r["tenant_id"], UUID(r["facts"]["into"]))
            for r in rows
        }

    async def _merged(
        self, conn: asyncpg.Connection, merge: RecordedEvent, plugins: dict[str, Plugin]
    ) -> None:
        """A duplicate merged: its marker row (the record it went into), and the parts of its
        rows moved into the rows of the record it is now kept under. Under the tenant's merge
        lock held exclusively: nobody else writes the tenant's rows meanwhile."""
        tenant, duplicate = merge.tenant_id, merge.stream_id
        into = UUID(str(merge.data["into"]))
        await conn.execute(
            f"INSERT INTO {self.table}"
            " (tenant_id, entry_id, patient_id, plugin, recall, name, message, facts, due_at)"
            " VALUES ($1, $2, $3, '', $4, '', '', $5::jsonb, NULL)"
            " ON CONFLICT (tenant_id, entry_id) DO NOTHING",
            tenant,
            merge_id(duplicate),
            duplicate,
            MERGED_INTO,
            {"into": str(into)},
        )
        moved = await self._facts(conn, {(tenant, duplicate)})
        if not moved:
            return  # nothing kept of the duplicate (or its merge delivered again)
        await conn.execute(
            f"DELETE FROM {self.table} WHERE tenant_id = $1 AND patient_id = $2 AND plugin <> ''",
            tenant,
            duplicate,
        )
        root = (await self._roots(conn, {(tenant, into)}))[(tenant, into)]
        facts = await self._facts(conn, {root})
        sources = {(tenant, s) for held in moved.values() for s in _parts(held, duplicate)}
        erased = await self._erased(conn, sources)  # not yet taken out here: never moved
        for (_, _, name, recall), held in moved.items():
            key = (tenant, root[1], name, recall)
            target = facts.get(key, {})
            for source, part in _parts(held, duplicate).items():
                if part and (tenant, source) not in erased:
                    kept = _part(target, source, root[1])
                    together = recalls.combined(kept, part) if kept else part
                    target = _with_part(target, source, root[1], together)
            facts[key] = target
        await self._save(conn, facts, plugins, await self._erased(conn, {root}))

    async def _lock(self, conn: asyncpg.Connection, patients: set[tuple[UUID, UUID]]) -> None:
        """Wait for any other transaction merging into these patients' rows to commit; taken in
        one order, so that two writers never deadlock, and in one statement (a function scan
        yields the array's elements in order, each lock taken as its row is produced)."""
        await conn.execute(
            "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))"
            " FROM unnest($1::text[]) AS k",
            [f"{self.table}:{tenant}:{patient}" for tenant, patient in sorted(patients)],
        )

    async def _erased(self, conn: asyncpg.Connection, patients: set[Patient]) -> set[Patient]:
        """The patients whose key is destroyed: their parts of the rows go, and a row kept under
        one is never due."""
        rows = await conn.fetch(
            "SELECT k.tenant_id, k.subject_id FROM subject_keys k"
            " JOIN unnest($1::uuid[], $2::uuid[]) AS p(tenant_id, patient_id)"
            " ON k.tenant_id = p.tenant_id AND k.subject_id = p.patient_id"
            " WHERE k.wrapped_key IS NULL",
            [t for t, _ in patients],
            [p for _, p in patients],
        )
        return {(r["tenant_id"], r["subject_id"]) for r in rows}

    async def _facts(
        self, conn: asyncpg.Connection, patients: set[tuple[UUID, UUID]]
    ) -> dict[Row, recalls.Facts]:
        rows = await conn.fetch(
            f"SELECT t.tenant_id, t.patient_id, t.plugin, t.recall, t.facts FROM {self.table} t"
            " JOIN unnest($1::uuid[], $2::uuid[]) AS p(tenant_id, patient_id)"
            " ON t.tenant_id = p.tenant_id AND t.patient_id = p.patient_id"
            " WHERE t.plugin <> ''",  # not the marker rows of merges
            [t for t, _ in patients],
            [p for _, p in patients],
        )
        return {
            (r["tenant_id"], r["patient_id"], r["plugin"], r["recall"]): r["facts"] for r in rows
        }

    async def _save(
        self,
        conn: asyncpg.Connection,
        facts: dict[Row, recalls.Facts],
        plugins: dict[str, Plugin],
        erased: set[Patient],
    ) -> None:
        """Each row as its facts say: gone when no record's part is left (all erased), never due
        under an erased record (what is kept there is a merged duplicate's)."""
        rows, gone = [], []
        for (tenant, patient, name, recall_id), held in facts.items():
            entry = entry_id(patient, name, recall_id)
            if not any(_parts(held, patient).values()):
                gone.append((tenant, entry))
                continue
            plugin = plugins.get(name)
            recall = (
                next((r for r in plugin.recalls if r.id == recall_id), None) if plugin else None
            )
            if recall is None:
                continue  # a recall the serving plugin no longer has: left as it was
            due = None
            if (tenant, patient) not in erased:
                due = recalls.due_at(recall, recalls.combined(*_parts(held, patient).values()))
            rows.append(
                (tenant, entry, patient, name, recall_id, recall.name, recall.message, held, due)
            )
        if gone:
            await conn.execute(
                f"DELETE FROM {self.table} t USING unnest($1::uuid[], $2::uuid[])"
                " AS g(tenant_id, entry_id)"
                " WHERE t.tenant_id = g.tenant_id AND t.entry_id = g.entry_id",
                [t for t, _ in gone],
                [e for _, e in gone],
            )
        if rows:
            await conn.executemany(
                f"INSERT INTO {self.table}"
                " (tenant_id, entry_id, patient_id, plugin, recall, name, message, facts, due_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)"
                " ON CONFLICT (tenant_id, entry_id) DO UPDATE SET"
                " name = EXCLUDED.name, message = EXCLUDED.message, facts = EXCLUDED.facts,"
                " due_at = EXCLUDED.due_at",
                rows,
            )


def entry_id(patient_id: UUID, plugin: str, recall: str) -> UUID:
    """The row of a patient's recall of a plugin."""
    return uuid5(NAMESPACE_URL, f"caretrail:worklist:{patient_id}:{plugin}:{recall}")


def merge_id(patient_id: UUID) -> UUID:
    """The marker row of a patient merged into another: `facts` {"into": <the record kept>}."""
    return uuid5(NAMESPACE_URL, f"caretrail:worklist-merged:{patient_id}")


def _parts(held: recalls.Facts, root: UUID) -> dict[UUID, recalls.Facts]:
    """A row's facts per record they came from: the row's patient's own (the top-level keys)
    and each merged duplicate's (under `merged`)."""
    own = {k: v for k, v in held.items() if k != MERGED}
    return {root: own, **{UUID(s): part for s, part in held.get(MERGED, {}).items()}}


def _part(held: recalls.Facts, source: UUID, root: UUID) -> recalls.Facts:
    part: recalls.Facts = _parts(held, root).get(source, {})
    return part


def _with_part(held: recalls.Facts, source: UUID, root: UUID, part: recalls.Facts) -> recalls.Facts:
    merged = dict(held.get(MERGED, {}))
    if source == root:
        return {**part, MERGED: merged} if merged else dict(part)
    own = {k: v for k, v in held.items() if k != MERGED}
    return {**own, MERGED: {**merged, str(source): part}}


def _without(
    facts: dict[Row, recalls.Facts], root: Patient, source: UUID
) -> dict[Row, recalls.Facts]:
    """The rows kept under `root` without the part of `source` (erased)."""
    changed = {}
    for key, held in facts.items():
        if key[:2] != root:
            continue
        parts = _parts(held, root[1])
        if source == root[1]:
            kept: recalls.Facts = {MERGED: {str(s): p for s, p in parts.items() if s != source}}
        else:
            kept = {k: v for k, v in held.items() if k != MERGED}
            kept[MERGED] = {str(s): p for s, p in parts.items() if s not in (source, root[1])}
        if not kept[MERGED]:
            del kept[MERGED]
        changed[key] = kept
    return {**facts, **changed}


def _patient_of(event: RecordedEvent) -> UUID | None:
    if event.stream_type == streams.PATIENT:
        return event.stream_id
    patient = event.data.get("patient_id")
    return None if patient is None else UUID(str(patient))


def _plugin_values(event: RecordedEvent, plugins: dict[str, Plugin]) -> dict[str, dict[str, Any]]:
    """The values the event gives each plugin with recalls ({} for a plugin event: its type is
    what counts). A patient's specialty data is all of it, so a plugin missing from it has
    no values (each of its fields as None)."""
    data = event.data
    if event.event_type in ("SpecialtyDataRecorded", "SpecialtyEventRecorded"):
        name = data["plugin"]
        values = data["data"] if event.event_type == "SpecialtyDataRecorded" else {}
        return {name: values} if name in plugins and isinstance(values, dict) else {}
    if event.event_type == "PatientRegistered":
        given = data.get("specialty_data") or {}
    elif event.event_type == "PatientDetailsChanged":
        changes = data.get("changes") or {}
        if "specialty_data" not in changes:
            return {}
        given = changes["specialty_data"] or {}
    else:
        return {}
    return {name: dict(given[name]) for name in plugins if isinstance(given.get(name), dict)} | {
        name: {r.rising: None for r in plugin.recalls if r.rising}
        for name, plugin in plugins.items()
        if name not in given and event.event_type == "PatientDetailsChanged"
    }


def _noted(
    recall: recalls.Recall, facts: recalls.Facts, event: RecordedEvent, values: dict[str, Any]
) -> recalls.Facts:
    at = event.occurred_at
    if event.event_type == "SpecialtyEventRecorded":
        at = dt.datetime.fromisoformat(str(event.data["occurred_at"]))
        facts = recalls.noted_event(recall, facts, event.data["type"], at)
    if any(v is not None for v in values.values()) or event.event_type == "SpecialtyEventRecorded":
        facts = recalls.noted_since(facts, at)
    return recalls.noted_values(recall, facts, str(event.stream_id), event.version, values, at)


WORKLIST = WorklistProjection()
