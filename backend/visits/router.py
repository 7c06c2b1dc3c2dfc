"""HTTP routes of the visits context."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

import asyncpg
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from backend.api import access
from backend.api.commands import execute
from backend.api.deps import require, tenant_of
from backend.api.paging import Cursor, Keyset, Limit, page
from backend.api.query import declared_query_only
from backend.api.reads import (
    MinPosition,
    json_response,
    read_model,
    read_model_response,
    read_one,
)
from backend.api.types import Instant, Measure, Text, Whole
from backend.auth.principal import (
    STAFF,
    Principal,
    Role,
    listed_patient,
    may_read_patient,
    reads_every_patient,
)
from backend.eventstore import EventStore
from backend.kernel.errors import Forbidden, NotFound
from backend.kernel.events import revive
from backend.loading import fold_stream
from backend.privacy import keys
from backend.tenancy.model import TENANT
from backend.visits import lab, prescribing, service
from backend.visits.events import NOTE_FIELDS, VisitNoteDrafted
from backend.visits.model import VISIT
from backend.visits.ownership import POLICY, Act, check
from backend.visits.projections import VISITS
from backend.visits.release import patient_view
from backend.visits.state import existing
from backend.visits.vitals import RANGES, Readings

router = APIRouter(
    prefix="/v1/visits", tags=["visits"], dependencies=[Depends(declared_query_only)]
)
Staff = Annotated[Principal, Depends(require(*STAFF))]
Clinicians = Annotated[Principal, Depends(require(Role.DOCTOR, Role.NURSE))]
# Roles per act come from the visit's policy (backend/visits/ownership.py), which the command
# then holds the caller to: the visit's doctor, a covering doctor, who charted a reading.
NoteWriter = Annotated[Principal, Depends(require(*POLICY[Act.NOTE].roles))]
Prescriber = Annotated[Principal, Depends(require(*POLICY[Act.PRESCRIPTIONS].roles))]
LabOrderer = Annotated[Principal, Depends(require(*POLICY[Act.LAB_ORDERS].roles))]
Releaser = Annotated[Principal, Depends(require(*POLICY[Act.RELEASE_RESULTS].roles))]
SignOff = Annotated[Principal, Depends(require(*POLICY[Act.SIGN_OFF].roles))]
Charting = Annotated[Principal, Depends(require(*POLICY[Act.VITALS].roles))]
Correcting = Annotated[Principal, Depends(require(*POLICY[Act.VITALS_IN_ERROR].roles))]
Covering = Annotated[Principal, Depends(require(*POLICY[Act.COVER].roles))]
Collectors = Annotated[Principal, Depends(require(Role.NURSE, Role.LAB_TECHNICIAN))]
LabTech = Annotated[Principal, Depends(require(Role.LAB_TECHNICIAN))]
Dispenser = Annotated[Principal, Depends(require(Role.PHARMACIST))]
Readers = Annotated[Principal, Depends(require(*STAFF, Role.AUDITOR, Role.PATIENT))]
"""A patient reads their own signed visits only (backend/auth/principal.py: who a patient is;
backend/visits/release.py: what they see)."""
OVERSIGHT = frozenset({Role.AUDITOR, Role.CLINIC_ADMIN})


class BreakGlassReasonRequired(Forbidden):
    code = "BREAK_GLASS_REASON_REQUIRED"


HistoryReader = Annotated[Principal, Depends(require(*POLICY[Act.NOTE].roles, *OVERSIGHT))]
NOTE_MAX = 20_000
SHORT = 200
LONG = 2_000


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewVisit(Body):
    patient_id: UUID
    practitioner_id: UUID
    appointment_id: UUID | None = None
    reason: Text | None = Field(default=None, max_length=500)
    opened_at: Instant | None = Field(
        default=None,
        description="when the visit began (default now); in the past within the late-charting "
        "policy",
    )
    specialty_data: dict[str, Any] | None = Field(
        default=None, description="{plugin: {field: value}} for the tenant's enabled specialties"
    )


class Note(Body):
    subjective: Text = Field(max_length=NOTE_MAX)
    objective: Text = Field(max_length=NOTE_MAX)
    assessment: Text = Field(max_length=NOTE_MAX)
    plan: Text = Field(max_length=NOTE_MAX)
    reason: Text | None = Field(
        default=None, max_length=LONG, description="why this revision (recorded with it)"
    )


class Dispensing(Body):
    note: Text | None = Field(default=None, max_length=LONG)


class Service(Body):
    code: Text = Field(min_length=1, max_length=50)
    description: Text = Field(min_length=1, max_length=SHORT)
    quantity: Whole
    unit_price: Text = Field(max_length=32, description='decimal string, e.g. "12.50"')


class Addendum(Body):
    text: Text = Field(min_length=1, max_length=NOTE_MAX)


def _reading(name: str) -> Any:
    """The reading's bounds and places, in the schema as vitals.check_readings enforces them."""
    low, high = RANGES[name]
    described: dict[str, Any] = {"minimum": float(low), "maximum": float(high)}
    return Field(default=None, json_schema_extra=described, description="at most 2 decimals")


class Vitals(Body):
    occurred_at: Instant | None = Field(
        default=None, description="when taken; in the past within the late-charting policy"
    )
    heart_rate: Whole | None = _reading("heart_rate")
    systolic: Whole | None = _reading("systolic")
    diastolic: Whole | None = _reading("diastolic")
    temperature_c: Measure | None = _reading("temperature_c")
    respiratory_rate: Whole | None = _reading("respiratory_rate")
    spo2: Whole | None = _reading("spo2")
    weight_kg: Measure | None = _reading("weight_kg")
    height_cm: Measure | None = _reading("height_cm")


class Prescription(Body):
    medication: Text = Field(min_length=1, max_length=SHORT)
    dose: Text = Field(min_length=1, max_length=SHORT)
    route: Text = Field(min_length=1, max_length=SHORT)
    frequency: Text = Field(min_length=1, max_length=SHORT)
    duration_days: Whole | None = None


class LabOrder(Body):
    test_code: Text = Field(min_length=1, max_length=50)
    test_name: Text = Field(min_length=1, max_length=SHORT)


class Reason(Body):
    """Why a reading is entered in error, or a prescription stopped."""

    reason: Text = Field(min_length=1, max_length=LONG)


class Collection(Body):
    collected_at: Instant | None = Field(
        default=None,
        description="when collected (default now); not before the order, in the past within "
        "the late-charting policy",
    )


class LabResult(Body):
    value: Text = Field(min_length=1, max_length=LONG)
    unit: Text | None = Field(
        default=None, max_length=50, description='required for a numeric value ("1" if none)'
    )
    reference_range: Text | None = Field(default=None, max_length=SHORT)
    abnormal: bool
    comment: Text | None = Field(default=None, max_length=LONG)

    def result(self) -> lab.LabResult:
        return lab.LabResult(
            self.value, self.unit, self.reference_range, self.abnormal, self.comment
        )


class Amendment(LabResult):
    reason: Text = Field(min_length=1, max_length=LONG)


@router.post("", status_code=201)
async def open_visit(body: NewVisit, request: Request, principal: Staff) -> Response:
    walk_in_id = uuid4()
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.open_visit(
            s,
            body.patient_id,
            body.practitioner_id,
            body.appointment_id,
            body.reason,
            walk_in_id,
            body.opened_at,
            body.specialty_data,
        ),
        status_code=201,
    )


@router.put("/{visit_id}/note")
async def draft_note(
    visit_id: UUID, body: Note, request: Request, principal: NoteWriter
) -> Response:
    sections = body.model_dump(exclude={"reason"})
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.draft_note(s, visit_id, sections, body.reason),
    )


@router.post("/{visit_id}/services")
async def add_service(
    visit_id: UUID, body: Service, request: Request, principal: Staff
) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.add_service(
            s, visit_id, body.code, body.description, body.quantity, body.unit_price
        ),
    )


@router.post("/{visit_id}/sign-off")
async def sign_off(visit_id: UUID, request: Request, principal: SignOff) -> Response:
    """Any staff member reaches the rule; only the owning doctor passes it (NOT_VISIT_OWNER)."""
    return await execute(
        request, principal, tenant_of(principal), lambda s: service.sign_off(s, visit_id)
    )


@router.post("/{visit_id}/cover")
async def take_cover(
    visit_id: UUID, body: Reason, request: Request, principal: Covering
) -> Response:
    """A practitioner of the tenant takes cover of another doctor's visit (recorded, with the
    reason); from then on they write its note, prescribe and order as its doctor does."""
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.take_cover(s, visit_id, body.reason),
    )


@router.post("/{visit_id}/addenda")
async def add_addendum(
    visit_id: UUID, body: Addendum, request: Request, principal: Clinicians
) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.add_addendum(s, visit_id, body.text),
    )


@router.post("/{visit_id}/vitals")
async def record_vitals(
    visit_id: UUID, body: Vitals, request: Request, principal: Charting
) -> Response:
    readings = Readings(**body.model_dump(exclude={"occurred_at"}))
    reading_id = uuid4()
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.record_vitals(s, visit_id, reading_id, body.occurred_at, readings),
    )


@router.post("/{visit_id}/vitals/{reading_id}/entered-in-error")
async def enter_vitals_in_error(
    visit_id: UUID, reading_id: UUID, body: Reason, request: Request, principal: Correcting
) -> Response:
    """Also after sign-off; by who charted the reading or the visit's doctor (NOT_VITALS_AUTHOR)."""
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.enter_vitals_in_error(s, visit_id, reading_id, body.reason),
    )


@router.post("/{visit_id}/prescriptions")
async def issue_prescription(
    visit_id: UUID, body: Prescription, request: Request, principal: Prescriber
) -> Response:
    prescription_id = uuid4()
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: prescribing.issue_prescription(
            s,
            visit_id,
            prescription_id,
            body.medication,
            body.dose,
            body.route,
            body.frequency,
            body.duration_days,
        ),
    )


@router.post("/{visit_id}/prescriptions/{prescription_id}/discontinue")
async def discontinue_prescription(
    visit_id: UUID, prescription_id: UUID, body: Reason, request: Request, principal: Prescriber
) -> Response:
    """The therapy is stopped; also after sign-off."""
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: prescribing.discontinue(s, visit_id, prescription_id, body.reason),
    )


@router.post("/{visit_id}/prescriptions/{prescription_id}/dispense")
async def dispense_prescription(
    visit_id: UUID,
    prescription_id: UUID,
    request: Request,
    principal: Dispenser,
    body: Dispensing | None = None,
) -> Response:
    """An active prescription handed out by a pharmacist, once; also after sign-off."""
    note = None if body is None else body.note
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.dispense(s, visit_id, prescription_id, note),
    )


@router.post("/{visit_id}/prescriptions/{prescription_id}/cancel")
async def cancel_prescription(
    visit_id: UUID, prescription_id: UUID, body: Reason, request: Request, principal: Prescriber
) -> Response:
    """The prescription is not to be acted on; also after sign-off."""
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: prescribing.cancel(s, visit_id, prescription_id, body.reason),
    )


@router.post("/{visit_id}/lab-orders")
async def order_lab(
    visit_id: UUID, body: LabOrder, request: Request, principal: LabOrderer
) -> Response:
    order_id = uuid4()
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.order_lab(s, visit_id, order_id, body.test_code, body.test_name),
    )


@router.post("/{visit_id}/lab-orders/{order_id}/collect")
async def collect_specimen(
    visit_id: UUID,
    order_id: UUID,
    request: Request,
    principal: Collectors,
    body: Collection | None = None,
) -> Response:
    collected_at = None if body is None else body.collected_at
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.collect_specimen(s, visit_id, order_id, collected_at),
    )


@router.post("/{visit_id}/lab-orders/{order_id}/result")
async def report_result(
    visit_id: UUID, order_id: UUID, body: LabResult, request: Request, principal: LabTech
) -> Response:
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.report_result(s, visit_id, order_id, body.result()),
    )


@router.post("/{visit_id}/lab-orders/{order_id}/amendments")
async def amend_result(
    visit_id: UUID, order_id: UUID, body: Amendment, request: Request, principal: LabTech
) -> Response:
    """A reported result corrected (also after sign-off); the replaced one stays in history."""
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.amend_result(s, visit_id, order_id, body.result(), body.reason),
    )


@router.post("/{visit_id}/lab-orders/{order_id}/release")
async def release_result(
    visit_id: UUID, order_id: UUID, request: Request, principal: Releaser
) -> Response:
    """The order's current result released to the patient (the visit's or a covering doctor)."""
    return await execute(
        request,
        principal,
        tenant_of(principal),
        lambda s: service.release_result(s, visit_id, order_id),
    )


@router.get("/{visit_id}/note/revisions")
async def note_revisions(visit_id: UUID, request: Request, principal: HistoryReader) -> Response:
    """Every revision of the note, oldest first, with who wrote it, when and why: for those who
    may write the note (the visit's doctor, a covering doctor), auditors and clinic admins."""
    store: EventStore = request.app.state.store
    async with store.transaction(tenant_of(principal)) as conn:
        visit = (await fold_stream(conn, VISIT, visit_id)).state
        existing(visit)
        if not principal.has_any(OVERSIGHT):
            check(Act.NOTE, visit, principal.actor, is_doctor=True)
        events = await store.read_stream(conn, VISIT.stream_type, visit_id)
        drafted = await keys.unseal(conn, [e for e in events if e.event_type == "VisitNoteDrafted"])
        await access.record(
            conn, request, principal, [visit.patient_id] if visit.patient_id else []
        )
    revisions = []
    for e in drafted:
        revision = revive(e)
        assert isinstance(revision, VisitNoteDrafted)
        sections = {s: getattr(revision, s) for s in NOTE_FIELDS}
        revisions.append(
            {
                "revision": revision.revision,
                # revisions before v2 name no author: the recorded actor wrote them
                "author": revision.author or e.metadata.get("actor"),
                "reason": revision.reason,
                "recorded_at": e.recorded_at,
                "note": sections,
            }
        )
    return json_response({"visit_id": visit_id, "revisions": revisions})


@router.get("/{visit_id}")
async def get_visit(
    visit_id: UUID, request: Request, principal: Readers, min_position: MinPosition = None
) -> Response:
    """A patient reads only their own signed visits, with the results released to them
    (backend/visits/release.py); any other visit is 404 to them. Where the tenant requires
    it, a doctor reading a visit neither theirs nor covered by them breaks the glass."""
    if not reads_every_patient(principal):
        return await _patients_visit(request, principal, visit_id, min_position)
    if principal.key_id is None and principal.roles == frozenset({Role.DOCTOR}):
        return await read_one(
            request,
            principal,
            VISITS,
            visit_id,
            min_position,
            "visit",
            checked=lambda conn, row: _treats_or_breaks_glass(conn, request, principal, row),
        )
    return await read_one(request, principal, VISITS, visit_id, min_position, "visit")


async def _treats_or_breaks_glass(
    conn: asyncpg.Connection, request: Request, principal: Principal, row: asyncpg.Record
) -> None:
    """The visit's doctor and its covering doctors read it; another doctor must give a reason
    (`X-Access-Reason`) when the tenant's `break_glass_required` says so, and the read is then
    recorded as breaking the glass."""
    treating = principal.actor == str(row["practitioner_id"]) or principal.actor in row["covering"]
    if treating:
        return
    policy = (await fold_stream(conn, TENANT, tenant_of(principal))).state.policy
    if not policy.break_glass_required:
        return
    if access.reason_of(request) is None:
        raise BreakGlassReasonRequired(
            "this visit is neither yours nor one you cover: say why (X-Access-Reason)"
        )
    request.state.break_glass = True


async def _patients_visit(
    request: Request, principal: Principal, visit_id: UUID, min_position: int | None
) -> Response:
    async with read_model(request, principal, VISITS.name, min_position) as (conn, at):
        row = await conn.fetchrow("SELECT * FROM rm_visits WHERE visit_id = $1", visit_id)
        mine = row is not None and may_read_patient(principal, row["patient_id"])
        days = await _release_days(conn, tenant_of(principal)) if mine else None
    shown = None
    if row is not None and days is not None:
        shown = patient_view(VISITS.view_of(row), days, dt.datetime.now(dt.UTC))
    if row is None or shown is None:
        raise NotFound(f"visit {visit_id} not found")
    return read_model_response(shown, at, {"ETag": f'"{row["version"]}"'})


NEWEST_FIRST = Keyset((("opened_at", "timestamptz"), ("visit_id", "uuid")), descending=True)


@router.get("")
async def list_visits(
    request: Request,
    principal: Readers,
    patient_id: UUID | None = None,
    status: Literal["open", "signed"] | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
    min_position: MinPosition = None,
) -> Response:
    """Newest first, a page at a time. A patient's list is their own signed visits as they may
    see them (another `patient_id` is refused; backend/visits/release.py)."""
    patient_id = listed_patient(principal, patient_id)
    view: Callable[[asyncpg.Record], dict[str, Any]] = VISITS.view_of
    async with read_model(request, principal, VISITS.name, min_position) as (conn, at):
        if not reads_every_patient(principal):
            if status == "open":
                return read_model_response({"items": [], "next_cursor": None}, at)
            status = "signed"
            view = _as_the_patient_sees(await _release_days(conn, tenant_of(principal)))
        body = await page(
            conn,
            "SELECT * FROM rm_visits",
            "($1::uuid IS NULL OR patient_id = $1) AND ($2::text IS NULL OR status = $2)",
            (patient_id, status),
            NEWEST_FIRST,
            cursor,
            limit,
            view,
        )
    return read_model_response(body, at)


async def _release_days(conn: asyncpg.Connection, tenant_id: UUID) -> int:
    """The tenant policy's `results_auto_release_days`."""
    return (await fold_stream(conn, TENANT, tenant_id)).state.policy.results_auto_release_days


def _as_the_patient_sees(days: int) -> Callable[[asyncpg.Record], dict[str, Any]]:
    """A signed visit's row as its patient sees it (backend/visits/release.py)."""
    now = dt.datetime.now(dt.UTC)

    def seen(row: asyncpg.Record) -> dict[str, Any]:
        shown = patient_view(VISITS.view_of(row), days, now)
        assert shown is not None, "only signed visits are listed to a patient"
        return shown

    return seen
