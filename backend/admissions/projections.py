"""Read models of the admissions context: one row per admission, one row per ward."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

import asyncpg

from backend.admissions.model import ADMISSION, Admission, stay_length
from backend.admissions.wards import WARD, Ward
from projections.framework import StateProjection


def _admission_row(a: Admission) -> dict[str, Any]:
    los = stay_length(a)
    return {
        "patient_id": a.patient_id,
        "ward_id": a.ward_id,
        "bed": a.bed,
        "specialty": a.specialty,
        "reason": a.reason,
        "status": a.status,
        "admitted_at": a.admitted_at,
        "moved_at": a.moved_at,
        "transfers": a.transfers,
        "discharged_at": a.discharged_at,
        "disposition": a.disposition,
        "summary": a.summary,
        "los_days": None if los is None else los.days,
        "los_hours": None if los is None else los.hours,
        "specialty_data": a.specialty_data,
        "specialty_events": a.specialty_events,
        "calculations": a.calculations,
    }


def _admission(r: asyncpg.Record) -> Admission:
    return Admission(
        r["admission_id"],
        r["patient_id"],
        r["ward_id"],
        r["bed"],
        r["specialty"],
        r["reason"],
        r["status"],
        r["admitted_at"],
        r["moved_at"],
        r["transfers"],
        r["discharged_at"],
        r["disposition"],
        r["summary"],
        r["specialty_data"],
        tuple(r["specialty_events"]),
        r["calculations"],
    )


def _ward_row(w: Ward) -> dict[str, Any]:
    return {
        "name": w.name,
        "beds": list(w.beds),
        "occupants": w.occupants,
        "released_at": w.released_at,
    }


def _ward(r: asyncpg.Record) -> Ward:
    occupants = {bed: UUID(a) for bed, a in r["occupants"].items()}
    released = {bed: dt.datetime.fromisoformat(t) for bed, t in r["released_at"].items()}
    return Ward(r["ward_id"], r["name"], tuple(r["beds"]), occupants, released)


ADMISSIONS = StateProjection(
    "admissions", ADMISSION, "rm_admissions", "admission_id", _admission_row, _admission
)
WARDS = StateProjection("wards", WARD, "rm_wards", "ward_id", _ward_row, _ward)
