"""The admission aggregate: one inpatient stay from admission to discharge (pure).

Each decision returns the events of every stream it touches (the admission, the wards whose
beds change, the patient's stay) so that the handler appends them in one transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from backend.admissions.events import (
    BedOccupied,
    BedReleased,
    PatientAdmitted,
    PatientDischarged,
    PatientStayClosed,
    PatientStayOpened,
    PatientTransferred,
)
from backend.admissions.stays import Stay
from backend.admissions.wards import Ward, bed_label
from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent
from backend.specialties.events import (
    CalculationRecorded,
    SpecialtyDataRecorded,
    SpecialtyEventRecorded,
)
from backend.specialties.folding import specialty_changes

Disposition = Literal["home", "transfer", "rehabilitation", "against_medical_advice", "deceased"]
DISPOSITIONS = frozenset(typing.get_args(Disposition))
PLANNED = frozenset({"home", "transfer", "rehabilitation"})
"""Discharges a plugin's readiness checklist may hold up; a death or a patient leaving against
advice happens whatever the checklist says (it is closed with a warning)."""
HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Admission:
    id: UUID | None = None
    patient_id: UUID | None = None
    ward_id: UUID | None = None
    bed: str | None = None
    specialty: str | None = None
    reason: str | None = None
    status: str = "none"
    admitted_at: dt.datetime | None = None
    moved_at: dt.datetime | None = None
    """When the patient last moved into their current bed (admission or transfer)."""
    transfers: int = 0
    discharged_at: dt.datetime | None = None
    disposition: str | None = None
    summary: str | None = None
    time_zone: str | None = None
    """The tenant's time zone at the discharge: the stay's days are midnights there."""
    specialty_data: dict[str, Any] = field(default_factory=dict)
    specialty_events: tuple[dict[str, Any], ...] = ()
    calculations: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LengthOfStay:
    """`days` as a midnight census counts them: the midnights the patient spent in, in the
    tenant's time zone (in at 23:50, out at 00:10: one day); `hours` the whole hours from
    admission to discharge."""

    days: int
    hours: int


@dataclass(frozen=True)
class Decision:
    admission: list[DomainEvent]
    wards: dict[UUID, list[DomainEvent]] = field(default_factory=dict)
    stay: list[DomainEvent] = field(default_factory=list)


def evolve(state: Admission, event: DomainEvent) -> Admission:
    match event:
        case PatientAdmitted():
            return Admission(
                event.admission_id,
                event.patient_id,
                event.ward_id,
                event.bed,
                event.specialty,
                event.reason,
                "admitted",
                event.admitted_at,
                event.admitted_at,
            )
        case PatientTransferred():
            return dataclasses.replace(
                state,
                ward_id=event.ward_id,
                bed=event.bed,
                moved_at=event.transferred_at,
                transfers=state.transfers + 1,
            )
        case PatientDischarged():
            return dataclasses.replace(
                state,
                status="discharged",
                discharged_at=event.discharged_at,
                disposition=event.disposition,
                summary=event.summary,
                time_zone=event.time_zone,
            )
        case SpecialtyDataRecorded() | SpecialtyEventRecorded() | CalculationRecorded():
            return dataclasses.replace(state, **specialty_changes(state, event))
    return state


def length_of_stay(
    admitted_at: dt.datetime, discharged_at: dt.datetime, time_zone: str
) -> LengthOfStay:
    zone = ZoneInfo(time_zone)
    midnights = (discharged_at.astimezone(zone).date() - admitted_at.astimezone(zone).date()).days
    elapsed = discharged_at.astimezone(dt.UTC) - admitted_at.astimezone(dt.UTC)  # not wall time
    return LengthOfStay(midnights, int(elapsed // HOUR))


def stay_length(state: Admission) -> LengthOfStay | None:
    """The length of a discharged stay (None while the patient is in)."""
    if state.admitted_at is None or state.discharged_at is None or state.time_zone is None:
        return None
    return length_of_stay(state.admitted_at, state.discharged_at, state.time_zone)


def view(state: Admission) -> dict[str, Any]:
    los = stay_length(state)
    return {
        **dataclasses.asdict(state),
        "length_of_stay": None if los is None else dataclasses.asdict(los),
    }


def require_hospital(kind: str) -> None:
    if kind != "hospital":
        raise Conflict("NOT_A_HOSPITAL", f"admissions are for hospitals; this tenant is a {kind}")


def admit(
    state: Admission,
    admission_id: UUID,
    patient_id: UUID,
    ward: Ward,
    stay: Stay,
    bed: str,
    specialty: str | None,
    reason: str,
    admitted_at: dt.datetime,
) -> Decision:
    if state.id is not None:
        raise Conflict("ADMISSION_EXISTS", "admission already exists")
    if not reason.strip():
        raise Invalid("reason", "must not be blank")
    if ward.id is None:
        raise Invalid("ward_id", "no such ward")
    bed = bed_label(bed)
    ward.require_bed(bed)
    if stay.admission_id is not None:
        raise Conflict("ALREADY_ADMITTED", f"the patient is in (admission {stay.admission_id})")
    ward.check_free(bed)
    if stay.last_discharged_at is not None and admitted_at < stay.last_discharged_at:
        raise Invalid(
            "admitted_at",
            f"the patient's previous stay ended at {stay.last_discharged_at.isoformat()}",
        )
    ward.check_free_since(bed, admitted_at, "admitted_at")
    admitted = PatientAdmitted(
        admission_id,
        patient_id,
        ward.id,
        bed,
        (specialty or "").strip() or None,
        reason.strip(),
        admitted_at,
    )
    return Decision(
        [admitted],
        {ward.id: [BedOccupied(ward.id, bed, admission_id, patient_id)]},
        [PatientStayOpened(patient_id, admission_id)],
    )


def transfer(
    state: Admission,
    current: Ward,
    target: Ward,
    bed: str,
    reason: str | None,
    now: dt.datetime,
) -> Decision:
    """Move the patient to `bed` of `target` (which may be `current`): the old bed is released
    and the new one occupied in the same append."""
    admission_id, patient_id = _open(state)
    if target.id is None:
        raise Invalid("ward_id", "no such ward")
    bed = bed_label(bed)
    if (target.id, bed) == (state.ward_id, state.bed):
        raise Invalid("bed", "the patient is already in this bed")
    target.check_free(bed)
    assert current.id is not None and state.bed is not None
    moved = PatientTransferred(
        admission_id,
        current.id,
        state.bed,
        target.id,
        bed,
        (reason or "").strip() or None,
        now,
    )
    released = BedReleased(current.id, state.bed, admission_id, now)
    occupied = BedOccupied(target.id, bed, admission_id, patient_id)
    if current.id == target.id:
        return Decision([moved], {current.id: [released, occupied]})
    return Decision([moved], {current.id: [released], target.id: [occupied]})


def discharge(
    state: Admission,
    disposition: str,
    summary: str | None,
    discharged_at: dt.datetime,
    time_zone: str,
) -> Decision:
    """`time_zone` is the tenant's, in which the stay's days are counted."""
    admission_id, patient_id = _open(state)
    if disposition not in DISPOSITIONS:
        raise Invalid("disposition", f"one of {', '.join(sorted(DISPOSITIONS))}")
    assert state.moved_at is not None and state.ward_id is not None and state.bed is not None
    if discharged_at < state.moved_at:
        raise Invalid("discharged_at", "must not be before the patient moved into their bed")
    return Decision(
        [
            PatientDischarged(
                admission_id,
                disposition,
                (summary or "").strip() or None,
                discharged_at,
                time_zone,
            )
        ],
        {state.ward_id: [BedReleased(state.ward_id, state.bed, admission_id, discharged_at)]},
        [PatientStayClosed(patient_id, admission_id, discharged_at)],
    )


def _open(state: Admission) -> tuple[UUID, UUID]:
    if state.id is None or state.patient_id is None:
        raise NotFound("admission not found")
    if state.status != "admitted":
        raise Conflict("ADMISSION_CLOSED", f"the admission is {state.status}")
    return state.id, state.patient_id


ADMISSION = register_aggregate(Aggregate("admission", Admission, evolve, view, snapshot_version=3))
