"""The patient aggregate: state, evolve, decide (pure)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent
from backend.patients.events import PatientDetailsChanged, PatientErased, PatientRegistered
from backend.plugins.events import CalculationRecorded
from backend.plugins.folding import with_calculation
from backend.privacy.sealing import ERASED_TEXT

SEXES = frozenset({"female", "male", "other", "unknown"})
PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,24}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CHANGEABLE = (
    "given_name",
    "family_name",
    "birth_date",
    "sex",
    "phone",
    "email",
    "specialty_data",
)


@dataclass(frozen=True)
class Patient:
    id: UUID | None = None
    given_name: str = ""
    family_name: str = ""
    birth_date: dt.date | None = None
    sex: str = "unknown"
    phone: str | None = None
    email: str | None = None
    specialty_data: dict[str, Any] = field(default_factory=dict)
    erased: bool = False
    calculations: dict[str, Any] = field(default_factory=dict)
    """The latest result of each plugin calculator ("<plugin>.<calculator>")."""


def evolve(state: Patient, event: DomainEvent) -> Patient:
    if isinstance(event, PatientRegistered):
        return Patient(
            event.patient_id,
            event.given_name,
            event.family_name,
            event.birth_date,
            event.sex,
            event.phone,
            event.email,
            event.specialty_data,
        )
    if isinstance(event, PatientDetailsChanged):
        changes = dict(event.changes)
        if "birth_date" in changes:
            changes["birth_date"] = dt.date.fromisoformat(changes["birth_date"])
        return dataclasses.replace(state, **changes)
    if isinstance(event, PatientErased):
        return dataclasses.replace(
            state,
            given_name=ERASED_TEXT,
            family_name=ERASED_TEXT,
            birth_date=None,
            phone=None,
            email=None,
            erased=True,
        )
    if isinstance(event, CalculationRecorded):
        return dataclasses.replace(state, calculations=with_calculation(state.calculations, event))
    return state


def view(state: Patient) -> dict[str, Any]:
    return dataclasses.asdict(state)


def register_patient(
    state: Patient, patient_id: UUID, details: dict[str, Any], today: dt.date
) -> list[DomainEvent]:
    if state.id is not None:
        raise Conflict("PATIENT_EXISTS", "patient already registered")
    _check(details, today)
    details = _normalised(details)
    return [
        PatientRegistered(
            patient_id=patient_id,
            given_name=details["given_name"],
            family_name=details["family_name"],
            birth_date=details["birth_date"],
            sex=details["sex"],
            phone=details.get("phone"),
            email=details.get("email"),
            specialty_data=details.get("specialty_data") or {},
        )
    ]


def change_details(state: Patient, changes: dict[str, Any], today: dt.date) -> list[DomainEvent]:
    """Record only what really changes; an empty result means nothing to do."""
    _exists_unerased(state)
    unknown = set(changes) - set(CHANGEABLE)
    if unknown:
        raise Invalid(sorted(unknown)[0], "cannot be changed")
    _check(changes, today)
    changes = _normalised(changes)
    changed = {k: v for k, v in changes.items() if getattr(state, k) != v}
    if not changed:
        return []
    encoded = {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in changed.items()}
    assert state.id is not None
    return [PatientDetailsChanged(state.id, encoded)]


def erase(state: Patient, reason: str) -> list[DomainEvent]:
    _exists_unerased(state)
    if not reason.strip():
        raise Invalid("reason", "must not be blank")
    assert state.id is not None
    return [PatientErased(state.id, reason.strip())]


def _exists_unerased(state: Patient) -> None:
    if state.id is None:
        raise NotFound("patient not found")
    if state.erased:
        raise Conflict("PATIENT_ERASED", "the patient's personal data has been erased")


def _normalised(details: dict[str, Any]) -> dict[str, Any]:
    """Names without surrounding blanks; absent specialty data as an empty object."""
    result = dict(details)
    for name in ("given_name", "family_name"):
        if name in result:
            result[name] = result[name].strip()
    if "specialty_data" in result:
        result["specialty_data"] = result["specialty_data"] or {}
    return result


def _check(details: dict[str, Any], today: dt.date) -> None:
    for name in ("given_name", "family_name"):
        if name in details and not str(details[name] or "").strip():
            raise Invalid(name, "must not be blank")
    if "birth_date" in details and details["birth_date"] > today:
        raise Invalid("birth_date", "must not be in the future")
    if "sex" in details and details["sex"] not in SEXES:
        raise Invalid("sex", f"must be one of {', '.join(sorted(SEXES))}")
    if details.get("phone") is not None and not PHONE.fullmatch(details["phone"]):
        raise Invalid("phone", "not a phone number")
    if details.get("email") is not None and not EMAIL.fullmatch(details["email"]):
        raise Invalid("email", "not an email address")


PATIENT = register_aggregate(Aggregate("patient", Patient, evolve, view, snapshot_version=2))
