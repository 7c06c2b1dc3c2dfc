"""The patient aggregate: state, evolve, decide (pure)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from backend.kernel import phones, streams, values
from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.errors import Conflict, Invalid, NotFound
from backend.kernel.events import DomainEvent
from backend.patients import names
from backend.patients.events import (
    PatientDetailsChanged,
    PatientDied,
    PatientDuplicateMergedIn,
    PatientErased,
    PatientMerged,
    PatientRegistered,
)
from backend.privacy.sealing import ERASED_TEXT
from backend.specialties.events import CalculationRecorded
from backend.specialties.folding import merged_specialty_data, with_calculation

Status = Literal["active", "erased", "deceased"]
SEXES = frozenset({"female", "male", "other", "unknown"})
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
    """E.164; as typed if recorded before phones were read (see kernel.phones)."""
    phone_as_typed: str | None = None
    email: str | None = None
    specialty_data: dict[str, Any] = field(default_factory=dict)
    erased: bool = False
    deceased: bool = False
    died_at: dt.datetime | None = None
    """None while alive, and once erased (the time of death is personal data)."""
    calculations: dict[str, Any] = field(default_factory=dict)
    """The latest result of each plugin calculator ("<plugin>.<calculator>")."""
    merged_into: UUID | None = None
    """Set on a duplicate merged into another patient: that one is the patient's record."""
    merged_from: tuple[str, ...] = ()
    """The duplicates merged into this patient (their records keep their ids)."""


def evolve(state: Patient, event: DomainEvent) -> Patient:
    if isinstance(event, PatientRegistered):
        return values.make(
            Patient,
            {
                "id": event.patient_id,
                "given_name": event.given_name,
                "family_name": event.family_name,
                "birth_date": event.birth_date,
                "sex": event.sex,
                "phone": event.phone,
                "phone_as_typed": event.phone_as_typed,
                "email": event.email,
                "specialty_data": event.specialty_data,
            },
        )
    if isinstance(event, PatientDetailsChanged):
        changes = dict(event.changes)
        if "phone" in changes and "phone_as_typed" not in changes:
            changes["phone_as_typed"] = changes["phone"]  # recorded before phones were read
        if "birth_date" in changes:
            changes["birth_date"] = dt.date.fromisoformat(changes["birth_date"])
        return values.replaced(state, **changes)
    if isinstance(event, PatientErased):
        return values.replaced(
            state,
            given_name=ERASED_TEXT,
            family_name=ERASED_TEXT,
            birth_date=None,
            sex=ERASED_TEXT,
            phone=None,
            phone_as_typed=None,
            email=None,
            died_at=None,
            specialty_data={},
            calculations={},
            erased=True,
        )
    if isinstance(event, PatientMerged):
        return values.replaced(state, merged_into=event.into)
    if isinstance(event, PatientDuplicateMergedIn):
        merged = (*state.merged_from, str(event.duplicate))
        return values.replaced(state, merged_from=merged)
    if isinstance(event, PatientDied):
        return values.replaced(state, deceased=True, died_at=event.died_at)
    if isinstance(event, CalculationRecorded):
        return values.replaced(state, calculations=with_calculation(state.calculations, event))
    return state


def view(state: Patient) -> dict[str, Any]:
    return dataclasses.asdict(state)


def register_patient(
    state: Patient,
    patient_id: UUID,
    details: dict[str, Any],
    today: dt.date,
    phone_region: str = phones.DEFAULT_REGION,
) -> list[DomainEvent]:
    """`phone_region`: the tenant's, which a phone typed without its country code is read in."""
    if state.id is not None:
        raise Conflict("PATIENT_EXISTS", "patient already registered")
    _check(details, today)
    details = _normalised(details, phone_region)
    return [
        PatientRegistered(
            patient_id=patient_id,
            given_name=details["given_name"],
            family_name=details["family_name"],
            birth_date=details["birth_date"],
            sex=details["sex"],
            phone=details.get("phone"),
            email=details.get("email"),
            specialty_data=merged_specialty_data({}, details.get("specialty_data") or {}),
            phone_as_typed=details.get("phone_as_typed"),
        )
    ]


def change_details(
    state: Patient,
    changes: dict[str, Any],
    today: dt.date,
    phone_region: str = phones.DEFAULT_REGION,
    reason: str | None = None,
) -> list[DomainEvent]:
    """Record only what really changes, with the `reason` given; an empty result means
    nothing to do (a reason alone changes nothing). Specialty data
    given is merged over the patient's (see `merged_specialty_data`), never replaces it. A
    phone is recorded with both its forms when either changes (the same number typed anew)."""
    _exists_unerased(state)
    _not_merged(state)
    unknown = set(changes) - set(CHANGEABLE)
    if unknown:
        raise Invalid(sorted(unknown)[0], "cannot be changed")
    _check(changes, today)
    changes = _normalised(changes, phone_region)
    if "specialty_data" in changes:
        given = changes["specialty_data"]
        if given is None:
            raise Invalid("specialty_data", 'not removable at once: give {"<plugin>": null}')
        changes["specialty_data"] = merged_specialty_data(state.specialty_data, given)
    changed = {k: v for k, v in changes.items() if getattr(state, k) != v}
    if "phone" in changed or "phone_as_typed" in changed:
        changed |= {"phone": changes["phone"], "phone_as_typed": changes["phone_as_typed"]}
    if not changed:
        return []
    encoded = {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in changed.items()}
    assert state.id is not None
    why = (reason or "").strip() or None
    return [PatientDetailsChanged(state.id, encoded, why)]


def erase(state: Patient, reason: str) -> list[DomainEvent]:
    """The reason stays readable after the erasure (it says why the data went), so it may not
    name the patient."""
    _exists_unerased(state)
    if not reason.strip():
        raise Invalid("reason", "must not be blank")
    if _words(reason) & _words(f"{state.given_name} {state.family_name}"):
        raise Invalid("reason", "must not name the patient: it stays readable after the erasure")
    assert state.id is not None
    return [PatientErased(state.id, reason.strip())]


def _words(text: str) -> set[str]:
    """The words of `text` of two letters or more, folded as search folds names ("García"
    and "garcia" are one word)."""
    return {w for w in (names.fold(part) for part in text.split()) if len(w) > 1}


def record_death(
    state: Patient,
    died_at: dt.datetime,
    now: dt.datetime,
    admission_id: UUID | None = None,
    *,
    zone: dt.tzinfo,
) -> list[DomainEvent]:
    """A death may be recorded long after it happened (the family tells the clinic weeks
    later), so `died_at` is bounded by the clock and the birth date only: the birth date is a
    day of the tenant's `zone`, so the death is compared on that zone's calendar."""
    _exists_unerased(state)
    if state.deceased:
        raise Conflict("PATIENT_DECEASED", "the patient's death is already recorded")
    if died_at > now:
        raise Invalid("died_at", "must not be in the future")
    if state.birth_date is not None and died_at.astimezone(zone).date() < state.birth_date:
        raise Invalid("died_at", "must not be before the birth date")
    assert state.id is not None
    return [PatientDied(state.id, died_at, admission_id)]


def status_of(state: Patient) -> Status:
    """Whether the patient may be booked, admitted and sent messages (`active`) or not."""
    if state.erased:
        return "erased"
    if state.deceased:
        return "deceased"
    return "active"


def require_active(state: Patient) -> None:
    """The check every context makes before it books, admits or messages a patient."""
    if state.id is None:
        raise Invalid("patient_id", "no such patient")
    match status_of(state):
        case "erased":
            raise Conflict("PATIENT_ERASED", "the patient's personal data has been erased")
        case "deceased":
            raise Conflict("PATIENT_DECEASED", "the patient is deceased")
    _not_merged(state)


def require_chartable(state: Patient, begun_at: dt.datetime | None = None) -> None:
    """The check before a new clinical record about the patient: never once they are erased
    (nothing new is written about them); with `begun_at` (a visit), not begun after their
    recorded death (a visit charted late, from before it, still is). An addendum has no
    `begun_at`: a death note follows the death."""
    if state.id is None:
        raise Invalid("patient_id", "no such patient")
    if state.erased:
        raise Conflict("PATIENT_ERASED", "the patient's personal data has been erased")
    if begun_at is not None and state.died_at is not None and begun_at > state.died_at:
        raise Conflict("PATIENT_DECEASED", f"the patient died at {state.died_at.isoformat()}")
    _not_merged(state)


def _exists_unerased(state: Patient) -> None:
    if state.id is None:
        raise NotFound("patient not found")
    if state.erased:
        raise Conflict("PATIENT_ERASED", "the patient's personal data has been erased")


def _not_merged(state: Patient) -> None:
    """A duplicate merged into another patient takes nothing new: that one is their record."""
    if state.merged_into is not None:
        raise Conflict(
            "PATIENT_MERGED", f"this record was merged into patient {state.merged_into}: use it"
        )


def merge(
    duplicate: Patient, kept: Patient, reason: str
) -> tuple[list[DomainEvent], list[DomainEvent]]:
    """The events on the duplicate's stream and on the kept patient's: the duplicate's records
    go on under the kept patient. Neither may be erased or merged already, nor be the same."""
    _exists_unerased(duplicate)
    if kept.id is None:
        raise Invalid("into", "no such patient")
    if kept.erased:
        raise Invalid("into", "that patient's personal data has been erased")
    if kept.id == duplicate.id:
        raise Invalid("into", "a patient is not merged into themselves")
    _not_merged(duplicate)
    if kept.merged_into is not None:
        raise Invalid("into", f"that record was merged into patient {kept.merged_into}")
    if not reason.strip():
        raise Invalid("reason", "must not be blank")
    assert duplicate.id is not None
    return (
        [PatientMerged(duplicate.id, kept.id, reason.strip())],
        [PatientDuplicateMergedIn(kept.id, duplicate.id)],
    )


def _normalised(details: dict[str, Any], phone_region: str) -> dict[str, Any]:
    """Names without surrounding blanks; a phone given in E.164 (`phone`) and as typed."""
    result = dict(details)
    for name in ("given_name", "family_name"):
        if name in result:
            result[name] = result[name].strip()
    if "phone" in result:
        typed = result["phone"]
        result["phone"] = None if typed is None else phones.parse(typed, phone_region).e164
        result["phone_as_typed"] = typed
    return result


def _check(details: dict[str, Any], today: dt.date) -> None:
    for name in ("given_name", "family_name"):
        if name in details and not str(details[name] or "").strip():
            raise Invalid(name, "must not be blank")
    if "birth_date" in details and details["birth_date"] > today:
        raise Invalid("birth_date", "must not be in the future")
    if "sex" in details and details["sex"] not in SEXES:
        raise Invalid("sex", f"must be one of {', '.join(sorted(SEXES))}")
    if details.get("email") is not None and not EMAIL.fullmatch(details["email"]):
        raise Invalid("email", "not an email address")


PATIENT = register_aggregate(Aggregate(streams.PATIENT, Patient, evolve, view, snapshot_version=5))
