"""The visit aggregate: state, evolve, decide (pure).

A visit is open until its owning doctor signs it off. Signing freezes the note, the billable
services and the vitals; addenda are only written after it, and lab orders and results keep
flowing (results arrive later). Nested values in the state are JSON-native (strings for times,
ids and decimals) so the read model folds to exactly the same state as the command side.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from backend.billing.model import MAX_LINES, NewLine, check_line
from backend.billing.money import parse_amount
from backend.encounters.events import (
    AddendumAdded,
    BillableServiceAdded,
    LabOrdered,
    LabResultReported,
    LabSpecimenCollected,
    PrescriptionIssued,
    VisitNoteDrafted,
    VisitOpened,
    VisitSignedOff,
    VitalsRecorded,
)
from backend.encounters.vitals import Readings, check_readings, readings_view
from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from backend.kernel.events import DomainEvent
from backend.plugins.events import (
    CalculationRecorded,
    SpecialtyDataRecorded,
    SpecialtyEventRecorded,
)
from backend.plugins.folding import specialty_changes
from backend.scheduling.model import Appointment

NOTE_SECTIONS = ("subjective", "objective", "assessment", "plan")
OPENABLE_APPOINTMENT = frozenset({"confirmed", "checked_in"})
MAX_DURATION_DAYS = 365


class NotVisitOwner(Forbidden):
    code = "NOT_VISIT_OWNER"


@dataclass(frozen=True)
class Visit:
    id: UUID | None = None
    patient_id: UUID | None = None
    practitioner_id: UUID | None = None
    appointment_id: UUID | None = None
    reason: str | None = None
    status: str = "none"
    opened_at: dt.datetime | None = None
    note: dict[str, str] | None = None
    note_revision: int = 0
    services: tuple[dict[str, Any], ...] = ()
    vitals: tuple[dict[str, Any], ...] = ()
    prescriptions: tuple[dict[str, Any], ...] = ()
    lab_orders: tuple[dict[str, Any], ...] = ()
    addenda: tuple[dict[str, Any], ...] = ()
    specialty_data: dict[str, Any] = field(default_factory=dict)
    specialty_events: tuple[dict[str, Any], ...] = ()
    calculations: dict[str, Any] = field(default_factory=dict)


def visit_id_for(appointment_id: UUID) -> UUID:
    """One visit per appointment: its id follows from the appointment's."""
    return uuid5(NAMESPACE_URL, f"caretrail:visit:{appointment_id}")


def evolve(state: Visit, event: DomainEvent) -> Visit:
    match event:
        case VisitOpened():
            return Visit(
                event.visit_id,
                event.patient_id,
                event.practitioner_id,
                event.appointment_id,
                event.reason,
                "open",
                event.opened_at,
            )
        case VisitNoteDrafted():
            note = {s: getattr(event, s) for s in NOTE_SECTIONS}
            return dataclasses.replace(state, note=note, note_revision=event.revision)
        case BillableServiceAdded():
            line = service_line(event.code, event.description, event.quantity, event.unit_price)
            return dataclasses.replace(state, services=(*state.services, line))
        case VisitSignedOff():
            return dataclasses.replace(state, status="signed")
        case AddendumAdded():
            addendum = {
                "text": event.text,
                "author": event.author,
                "added_at": _iso(event.added_at),
            }
            return dataclasses.replace(state, addenda=(*state.addenda, addendum))
        case VitalsRecorded():
            return dataclasses.replace(state, vitals=(*state.vitals, _vitals_view(event)))
        case PrescriptionIssued():
            return dataclasses.replace(
                state, prescriptions=(*state.prescriptions, _prescription_view(event))
            )
        case LabOrdered():
            return dataclasses.replace(state, lab_orders=(*state.lab_orders, _order_view(event)))
        case LabSpecimenCollected():
            return _update_order(
                state, event.order_id, status="collected", collected_at=_iso(event.collected_at)
            )
        case LabResultReported():
            result = {
                "value": event.value,
                "unit": event.unit,
                "reference_range": event.reference_range,
                "abnormal": event.abnormal,
                "comment": event.comment,
            }
            return _update_order(
                state,
                event.order_id,
                status="reported",
                reported_at=_iso(event.reported_at),
                result=result,
            )
        case SpecialtyDataRecorded() | SpecialtyEventRecorded() | CalculationRecorded():
            return dataclasses.replace(state, **specialty_changes(state, event))
    return state


def view(state: Visit) -> dict[str, Any]:
    return dataclasses.asdict(state)


def service_line(code: str, description: str, quantity: int, unit_price: Decimal) -> dict[str, Any]:
    """A billable service in the shape VisitSignedOff promises billing."""
    return {
        "code": code,
        "description": description,
        "quantity": quantity,
        "unit_price": str(unit_price),
    }


def open_visit(
    state: Visit,
    visit_id: UUID,
    patient_id: UUID,
    practitioner_id: UUID,
    appointment_id: UUID | None,
    appointment: Appointment | None,
    reason: str | None,
    now: dt.datetime,
) -> list[DomainEvent]:
    """`appointment` is the appointment's state when the visit comes from one."""
    if state.id is not None:
        raise Conflict("VISIT_EXISTS", "a visit is already open for this appointment")
    if appointment_id is not None:
        if appointment is None or appointment.id is None:
            raise Invalid("appointment_id", "no such appointment")
        if appointment.patient_id != patient_id:
            raise Invalid("appointment_id", "the appointment is for another patient")
        if appointment.practitioner_id != practitioner_id:
            raise Invalid("appointment_id", "the appointment is with another practitioner")
        if appointment.status not in OPENABLE_APPOINTMENT:
            raise Conflict(
                "APPOINTMENT_NOT_CHECKED_IN",
                f"a visit opens from a checked-in or confirmed appointment, not a "
                f"{appointment.status} one",
            )
    cleaned = (reason or "").strip() or None
    return [VisitOpened(visit_id, patient_id, practitioner_id, appointment_id, cleaned, now)]


def draft_note(state: Visit, sections: dict[str, str]) -> list[DomainEvent]:
    """A new revision, or nothing when the content is what the last revision says."""
    _open(state)
    note = {s: sections.get(s, "") for s in NOTE_SECTIONS}
    if note == state.note:
        return []
    return [VisitNoteDrafted(_id(state), state.note_revision + 1, **note)]


def add_service(
    state: Visit, code: str, description: str, quantity: int, unit_price: str
) -> list[DomainEvent]:
    """A service is a line of the invoice its sign-off drafts, so it is held to the invoice
    line's rules (billing.model) here, where the clinician can still be told: refused later,
    in the billing reaction, it would stop that reaction for every tenant."""
    _open(state)
    if len(state.services) >= MAX_LINES:
        raise Invalid("services", f"at most {MAX_LINES} services (the lines of one invoice)")
    try:
        price = parse_amount(unit_price)
    except ValueError as e:
        raise Invalid("unit_price", str(e)) from None
    line = NewLine(code.strip(), description.strip(), quantity, price)
    check_line(line)
    return [BillableServiceAdded(_id(state), line.code, line.description, quantity, price)]


def sign_off(state: Visit, actor: str, is_doctor: bool) -> list[DomainEvent]:
    _exists(state)
    if not is_doctor or actor != str(state.practitioner_id):
        raise NotVisitOwner("only the doctor who owns the visit may sign it off")
    if state.status == "signed":
        raise Conflict("VISIT_SIGNED", "the visit is already signed off")
    if state.note is None or not any(v.strip() for v in state.note.values()):
        raise Conflict("NOTE_REQUIRED", "draft the note before signing off")
    assert state.patient_id is not None and state.practitioner_id is not None
    return [
        VisitSignedOff(
            _id(state),
            state.patient_id,
            state.practitioner_id,
            state.appointment_id,
            state.services,
        )
    ]


def add_addendum(state: Visit, text: str, author: str, now: dt.datetime) -> list[DomainEvent]:
    _exists(state)
    if state.status != "signed":
        raise Conflict("VISIT_NOT_SIGNED", "addenda are written after sign-off; edit the note")
    return [AddendumAdded(_id(state), _required("text", text), author, now)]


def record_vitals(state: Visit, taken_at: dt.datetime, readings: Readings) -> list[DomainEvent]:
    """`taken_at` was already checked against the clock and the tenant's late-charting policy."""
    _open(state)
    check_readings(readings)
    return [VitalsRecorded(_id(state), taken_at, **dataclasses.asdict(readings))]


def issue_prescription(
    state: Visit,
    prescription_id: UUID,
    medication: str,
    dose: str,
    route: str,
    frequency: str,
    duration_days: int | None,
    prescriber: str,
) -> list[DomainEvent]:
    _open(state)
    if duration_days is not None and not 1 <= duration_days <= MAX_DURATION_DAYS:
        raise Invalid("duration_days", f"a whole number from 1 to {MAX_DURATION_DAYS}")
    return [
        PrescriptionIssued(
            _id(state),
            prescription_id,
            _required("medication", medication),
            _required("dose", dose),
            _required("route", route),
            _required("frequency", frequency),
            duration_days,
            prescriber,
        )
    ]


def order_lab(
    state: Visit, order_id: UUID, test_code: str, test_name: str, now: dt.datetime
) -> list[DomainEvent]:
    _exists(state)
    code, name = _required("test_code", test_code), _required("test_name", test_name)
    return [LabOrdered(_id(state), order_id, code, name, now)]


def collect_specimen(state: Visit, order_id: UUID, now: dt.datetime) -> list[DomainEvent]:
    _order_in(state, order_id, "ordered", "collect a specimen for")
    return [LabSpecimenCollected(_id(state), order_id, now)]


def report_result(
    state: Visit,
    order_id: UUID,
    value: str,
    unit: str | None,
    reference_range: str | None,
    abnormal: bool,
    comment: str | None,
    now: dt.datetime,
) -> list[DomainEvent]:
    _order_in(state, order_id, "collected", "report a result for")
    return [
        LabResultReported(
            _id(state),
            order_id,
            _required("value", value),
            _optional(unit),
            _optional(reference_range),
            abnormal,
            _optional(comment),
            now,
        )
    ]


def _order_in(state: Visit, order_id: UUID, status: str, action: str) -> None:
    _exists(state)
    order = next((o for o in state.lab_orders if o["order_id"] == str(order_id)), None)
    if order is None:
        raise NotFound(f"lab order {order_id} not found")
    if order["status"] != status:
        raise Conflict(
            "INVALID_STATUS_TRANSITION", f"cannot {action} a lab order that is {order['status']}"
        )


def _update_order(state: Visit, order_id: UUID, **changes: Any) -> Visit:
    orders = tuple(
        {**o, **changes} if o["order_id"] == str(order_id) else o for o in state.lab_orders
    )
    return dataclasses.replace(state, lab_orders=orders)


def _order_view(event: LabOrdered) -> dict[str, Any]:
    return {
        "order_id": str(event.order_id),
        "test_code": event.test_code,
        "test_name": event.test_name,
        "status": "ordered",
        "ordered_at": _iso(event.ordered_at),
        "collected_at": None,
        "reported_at": None,
        "result": None,
    }


def _prescription_view(event: PrescriptionIssued) -> dict[str, Any]:
    return {
        "prescription_id": str(event.prescription_id),
        "medication": event.medication,
        "dose": event.dose,
        "route": event.route,
        "frequency": event.frequency,
        "duration_days": event.duration_days,
        "prescriber": event.prescriber,
    }


def _vitals_view(event: VitalsRecorded) -> dict[str, Any]:
    readings = Readings(**{f.name: getattr(event, f.name) for f in dataclasses.fields(Readings)})
    return {"taken_at": _iso(event.taken_at), **readings_view(readings)}


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def _required(field: str, value: str) -> str:
    if not value.strip():
        raise Invalid(field, "must not be blank")
    return value.strip()


def _optional(value: str | None) -> str | None:
    return (value or "").strip() or None


def _exists(state: Visit) -> None:
    if state.id is None:
        raise NotFound("visit not found")


def _open(state: Visit) -> None:
    _exists(state)
    if state.status == "signed":
        raise Conflict("VISIT_SIGNED", "the visit is signed off; write an addendum instead")


def _id(state: Visit) -> UUID:
    assert state.id is not None
    return state.id


VISIT = register_aggregate(Aggregate("visit", Visit, evolve, view, snapshot_version=2))
