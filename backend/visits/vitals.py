"""Vital signs (pure): the physiological ranges a reading must fall in, charting a reading and
marking one entered in error.

A reading is charted while the visit is open, never timed before the visit opened (a temporal
read at that time would show vitals of a visit that did not exist yet). Readings are listed in
the order they were taken, whatever order they were charted in. A reading charted in error is
marked, never removed, also after sign-off (a correction is not a note edit): by the clinician
who charted it or by the visit's own doctor.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent
from backend.visits.events import VitalsEnteredInError, VitalsRecorded
from backend.visits.ownership import Act, check
from backend.visits.state import Visit, existing, iso, required, still_open

RANGES: dict[str, tuple[Decimal, Decimal]] = {
    "heart_rate": (Decimal(20), Decimal(300)),
    "systolic": (Decimal(50), Decimal(300)),
    "diastolic": (Decimal(20), Decimal(200)),
    "temperature_c": (Decimal(25), Decimal(45)),
    "respiratory_rate": (Decimal(4), Decimal(80)),
    "spo2": (Decimal(50), Decimal(100)),
    "weight_kg": (Decimal("0.2"), Decimal(500)),
    "height_cm": (Decimal(20), Decimal(280)),
}
"""Inclusive bounds: anything outside is a typing error, not a patient."""


@dataclass(frozen=True)
class Readings:
    heart_rate: int | None = None
    systolic: int | None = None
    diastolic: int | None = None
    temperature_c: Decimal | None = None
    respiratory_rate: int | None = None
    spo2: int | None = None
    weight_kg: Decimal | None = None
    height_cm: Decimal | None = None


def check_readings(readings: Readings) -> None:
    values = dataclasses.asdict(readings)
    if all(v is None for v in values.values()):
        raise Invalid("vitals", "record at least one vital sign")
    for name, value in values.items():
        if value is None:
            continue
        low, high = RANGES[name]
        if not Decimal(value).is_finite() or not low <= value <= high:
            raise Invalid(name, f"must be between {low} and {high}")
    if (
        readings.systolic is not None
        and readings.diastolic is not None
        and readings.systolic <= readings.diastolic
    ):
        raise Invalid("systolic", "must be greater than diastolic")


def readings_view(readings: Readings) -> dict[str, Any]:
    """The given readings only, decimals as strings."""
    return {
        name: str(value) if isinstance(value, Decimal) else value
        for name, value in dataclasses.asdict(readings).items()
        if value is not None
    }


def record_vitals(
    state: Visit, reading_id: UUID, taken_at: dt.datetime, readings: Readings, by: str
) -> list[DomainEvent]:
    """`taken_at` was already checked against the clock and the tenant's late-charting policy."""
    visit_id = still_open(state)
    assert state.opened_at is not None
    if taken_at < state.opened_at:
        raise Invalid("occurred_at", f"before the visit opened ({iso(state.opened_at)})")
    check_readings(readings)
    return [VitalsRecorded(visit_id, reading_id, taken_at, by, **dataclasses.asdict(readings))]


def enter_in_error(
    state: Visit, reading_id: UUID, reason: str, by: str, is_doctor: bool, now: dt.datetime
) -> list[DomainEvent]:
    reading = _reading(state, reading_id)
    check(Act.VITALS_IN_ERROR, state, by, is_doctor, charted_by=reading["recorded_by"])
    if reading["status"] == "entered_in_error":
        raise Conflict("ALREADY_ENTERED_IN_ERROR", "the reading is already marked in error")
    return [VitalsEnteredInError(existing(state), reading_id, required("reason", reason), by, now)]


def reading_valid_time(state: Visit, reading_id: UUID) -> dt.datetime:
    """When the reading was taken: a reading charted in error was never true."""
    return dt.datetime.fromisoformat(_reading(state, reading_id)["taken_at"])


def evolve_vitals(state: Visit, event: DomainEvent) -> Visit:
    match event:
        case VitalsRecorded():
            taken = sorted((*state.vitals, _reading_view(event)), key=_taken_at)
            return dataclasses.replace(state, vitals=tuple(taken))
        case VitalsEnteredInError():
            marked = {
                "status": "entered_in_error",
                "entered_in_error": {
                    "reason": event.reason,
                    "marked_by": event.marked_by,
                    "marked_at": iso(event.marked_at),
                },
            }
            vitals = tuple(  # .get: read-model rows folded before v2 have no reading ids
                {**v, **marked} if v.get("reading_id") == str(event.reading_id) else v
                for v in state.vitals
            )
            return dataclasses.replace(state, vitals=vitals)
    return state


def _reading(state: Visit, reading_id: UUID) -> dict[str, Any]:
    existing(state)
    reading = next((v for v in state.vitals if v.get("reading_id") == str(reading_id)), None)
    if reading is None:
        raise NotFound(f"vitals reading {reading_id} not found")
    return reading


def _taken_at(reading: dict[str, Any]) -> dt.datetime:
    """Sorting is stable: readings taken at the same moment keep their charting order."""
    return dt.datetime.fromisoformat(reading["taken_at"])


def _reading_view(event: VitalsRecorded) -> dict[str, Any]:
    readings = Readings(**{f.name: getattr(event, f.name) for f in dataclasses.fields(Readings)})
    return {
        "reading_id": str(event.reading_id),
        "taken_at": iso(event.taken_at),
        "recorded_by": event.recorded_by,
        "status": "final",
        "entered_in_error": None,
        **readings_view(readings),
    }
