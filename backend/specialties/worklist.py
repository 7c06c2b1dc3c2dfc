"""rm_worklist: per tenant, one row per patient, plugin and recall (backend/specialties/recalls.py)
with the facts the recall needs and when it falls due; `GET /v1/worklist` lists the rows due.
A row's key is (tenant_id, entry_id), entry_id derived from the patient, plugin and recall, as
every read model's key is the tenant and one column.

Fed by the patient's specialty data (their record, their visits' and admissions' data and plugin
events, which carry `patient_id`; events recorded before they carried it are not seen). The
recalls are those of the plugin version serving where the projection runs, so after changing
a plugin's recalls, rebuild the worklist (`caretrail projections rebuild worklist`).

An erased patient has no rows, whatever order their events arrive in: their key is gone, so
their rows are deleted and nothing of theirs is noted again.

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
WANTED = frozenset(
    {
        "PatientRegistered",
        "PatientDetailsChanged",
        ERASURE,
        "SpecialtyDataRecorded",
        "SpecialtyEventRecorded",
    }
)
Row = tuple[UUID, UUID, str, str]
"""(tenant_id, patient_id, plugin, recall)"""


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
        noted = [
            (e, patient, values)
            for e in mine
            if (patient := _patient_of(e)) is not None
            and ((values := _plugin_values(e, plugins)) or e.event_type == ERASURE)
        ]
        if not noted:
            return  # nothing for any recall (most registrations): no lock, no reads
        patients = {(e.tenant_id, p) for e, p, _ in noted}
        await self._lock(conn, patients)
        erased = await self._erased(conn, patients)
        facts = await self._facts(conn, patients - erased)
        for event, patient, given in noted:
            if (event.tenant_id, patient) in erased:
                continue
            for name, values in given.items():
                for recall in plugins[name].recalls:
                    key = (event.tenant_id, patient, name, recall.id)
                    new = _noted(recall, facts.get(key, {}), event, values)
                    if new or key in facts:  # no row for a patient without the plugin's values
                        facts[key] = new
        await self._save(conn, facts, plugins)

    async def _lock(self, conn: asyncpg.Connection, patients: set[tuple[UUID, UUID]]) -> None:
        """Wait for any other transaction merging into these patients' rows to commit; taken in
        one order, so that two writers never deadlock, and in one statement (a function scan
        yields the array's elements in order, each lock taken as its row is produced)."""
        await conn.execute(
            "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))"
            " FROM unnest($1::text[]) AS k",
            [f"{self.table}:{tenant}:{patient}" for tenant, patient in sorted(patients)],
        )

    async def _erased(
        self, conn: asyncpg.Connection, patients: set[tuple[UUID, UUID]]
    ) -> set[tuple[UUID, UUID]]:
        """The patients whose key is destroyed: their rows go."""
        rows = await conn.fetch(
            "SELECT k.tenant_id, k.subject_id FROM subject_keys k"
            " JOIN unnest($1::uuid[], $2::uuid[]) AS p(tenant_id, patient_id)"
            " ON k.tenant_id = p.tenant_id AND k.subject_id = p.patient_id"
            " WHERE k.wrapped_key IS NULL",
            [t for t, _ in patients],
            [p for _, p in patients],
        )
        erased = {(r["tenant_id"], r["subject_id"]) for r in rows}
        if erased:
            await conn.execute(
                f"DELETE FROM {self.table} t USING unnest($1::uuid[], $2::uuid[])"
                " AS e(tenant_id, patient_id)"
                " WHERE t.tenant_id = e.tenant_id AND t.patient_id = e.patient_id",
                [t for t, _ in erased],
                [p for _, p in erased],
            )
        return erased

    async def _facts(
        self, conn: asyncpg.Connection, patients: set[tuple[UUID, UUID]]
    ) -> dict[Row, recalls.Facts]:
        rows = await conn.fetch(
            f"SELECT t.tenant_id, t.patient_id, t.plugin, t.recall, t.facts FROM {self.table} t"
            " JOIN unnest($1::uuid[], $2::uuid[]) AS p(tenant_id, patient_id)"
            " ON t.tenant_id = p.tenant_id AND t.patient_id = p.patient_id",
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
    ) -> None:
        rows = []
        for (tenant, patient, name, recall_id), held in facts.items():
            plugin = plugins.get(name)
            recall = (
                next((r for r in plugin.recalls if r.id == recall_id), None) if plugin else None
            )
            if recall is None:
                continue  # a recall the serving plugin no longer has: left as it was
            due = recalls.due_at(recall, held)
            entry = entry_id(patient, name, recall_id)
            rows.append(
                (tenant, entry, patient, name, recall_id, recall.name, recall.message, held, due)
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
