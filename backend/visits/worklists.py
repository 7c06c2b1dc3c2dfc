"""Reads across visits: the lab's orders by status and the pharmacy's prescriptions to dispense
(from the visits read model: each row one element of a visit's `lab_orders` or
`prescriptions`, with its visit and patient, paged in a stable order), and a patient's
timeline (folded from the events, now or as of a past moment)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from backend.api import access
from backend.api.deps import require, tenant_of
from backend.api.paging import Cursor, Keyset, Limit, page
from backend.api.query import declared_query_only
from backend.api.reads import MinPosition, json_response, read_model, read_model_response
from backend.api.types import Instant
from backend.auth.principal import STAFF, Principal, Role
from backend.eventstore import EventStore
from backend.eventstore.settling import settled_moment
from backend.kernel.errors import NotFound
from backend.loading import fold_stream
from backend.patients.model import PATIENT
from backend.visits.model import VISIT
from backend.visits.projections import VISITS
from backend.visits.timeline import timeline

router = APIRouter(prefix="/v1", tags=["visits"], dependencies=[Depends(declared_query_only)])
LabReaders = Annotated[Principal, Depends(require(Role.LAB_TECHNICIAN, *STAFF, Role.AUDITOR))]
PharmacyReaders = Annotated[Principal, Depends(require(Role.PHARMACIST, *STAFF, Role.AUDITOR))]

_LAB_ORDERS = """
SELECT * FROM (
  SELECT v.visit_id, v.patient_id, v.practitioner_id, o.value AS item,
         (o.value->>'ordered_at')::timestamptz AS ordered_at,
         (o.value->>'order_id')::uuid AS order_id, o.value->>'status' AS status
    FROM rm_visits v CROSS JOIN LATERAL jsonb_array_elements(v.lab_orders) AS o(value)
) lab
"""
_PRESCRIPTIONS = """
SELECT * FROM (
  SELECT v.visit_id, v.patient_id, v.practitioner_id, v.opened_at, p.value AS item,
         (p.value->>'prescription_id')::uuid AS prescription_id, p.value->>'status' AS status,
         coalesce(jsonb_typeof(p.value->'dispensed') = 'object', false) AS dispensed
    FROM rm_visits v CROSS JOIN LATERAL jsonb_array_elements(v.prescriptions) AS p(value)
) rx
"""
BY_ORDER_TIME = Keyset((("ordered_at", "timestamptz"), ("order_id", "uuid")))
BY_VISIT_TIME = Keyset((("opened_at", "timestamptz"), ("prescription_id", "uuid")))


@router.get("/lab-orders")
async def lab_worklist(
    request: Request,
    principal: LabReaders,
    status: Literal["ordered", "collected", "reported", "amended"] | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
    min_position: MinPosition = None,
) -> Response:
    """The tenant's lab orders, oldest order first, of one status or all: the lab's worklist
    (`ordered`: specimens to collect, `collected`: results to report)."""
    async with read_model(request, principal, VISITS.name, min_position) as (conn, at):
        body = await page(
            conn,
            _LAB_ORDERS,
            "($1::text IS NULL OR status = $1)",
            (status,),
            BY_ORDER_TIME,
            cursor,
            limit,
            _entry,
        )
    return read_model_response(body, at)


@router.get("/prescriptions")
async def pharmacy_worklist(
    request: Request,
    principal: PharmacyReaders,
    status: Literal["to_dispense", "dispensed", "active", "discontinued", "cancelled"]
    | None = "to_dispense",
    cursor: Cursor = None,
    limit: Limit = 100,
    min_position: MinPosition = None,
) -> Response:
    """The tenant's prescriptions by visit time: by default those to dispense (active and not
    dispensed yet), else those dispensed, or of a status."""
    async with read_model(request, principal, VISITS.name, min_position) as (conn, at):
        body = await page(
            conn,
            _PRESCRIPTIONS,
            "($1::text IS NULL"
            " OR ($1 = 'to_dispense' AND status = 'active' AND NOT dispensed)"
            " OR ($1 = 'dispensed' AND dispensed) OR status = $1)",
            (status,),
            BY_VISIT_TIME,
            cursor,
            limit,
            _entry,
        )
    return read_model_response(body, at)


def _entry(row: asyncpg.Record) -> dict[str, Any]:
    return {
        **row["item"],
        "visit_id": row["visit_id"],
        "patient_id": row["patient_id"],
        "practitioner_id": row["practitioner_id"],
    }


ClinicalReaders = Annotated[
    Principal,
    Depends(require(Role.DOCTOR, Role.NURSE, Role.PHARMACIST, Role.CLINIC_ADMIN, Role.AUDITOR)),
]


@router.get("/patients/{patient_id}/timeline")
async def patient_timeline(
    patient_id: UUID,
    request: Request,
    principal: ClinicalReaders,
    as_of: Annotated[Instant | None, Query(description="as recorded by then")] = None,
) -> Response:
    """What was charted about the patient across their visits, by clinical time, folded from
    the events (now, or as known at `as_of`, settled as the temporal reads are)."""
    moment = (
        None if as_of is None else await settled_moment(request.app.state.projector_pool, as_of)
    )
    store: EventStore = request.app.state.store
    async with store.transaction(tenant_of(principal)) as conn:
        patient = await fold_stream(conn, PATIENT, patient_id, recorded_by=moment)
        ids = await conn.fetch(
            "SELECT visit_id FROM rm_visits WHERE patient_id = $1 ORDER BY opened_at", patient_id
        )
        folded = [await fold_stream(conn, VISIT, r["visit_id"], recorded_by=moment) for r in ids]
        if patient.version:
            await access.record(conn, request, principal, [patient_id])
    if patient.version == 0:
        raise NotFound(f"patient {patient_id} not found")
    visits = [VISIT.view(f.state) for f in folded if f.version > 0]
    return json_response({"patient_id": patient_id, "as_of": moment, "items": timeline(visits)})
