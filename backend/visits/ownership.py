"""Who may do what on a visit: one declarative table of roles and ownership (pure).

A role lets a caller reach a command (the router admits `POLICY[act].roles`); the visit then
decides whether this caller holds it (`check`, on the visit's state as loaded by the command):

| act | roles | who of them |
| --- | --- | --- |
| the note | DOCTOR | the visit's doctor, or a covering doctor |
| prescriptions (issue, discontinue, cancel) | DOCTOR | the visit's doctor, or a covering doctor |
| lab orders | DOCTOR | the visit's doctor, or a covering doctor |
| releasing a result to the patient | DOCTOR | the visit's doctor, or a covering doctor |
| sign-off | staff | the visit's doctor |
| vitals | DOCTOR, NURSE | anyone of them |
| a reading entered in error | DOCTOR, NURSE | who charted it, or the visit's doctor |
| covering | DOCTOR | a practitioner of the tenant |

The visit's doctor is the practitioner it was opened with: a DOCTOR whose token's `sub` is
the visit's `practitioner_id`. A covering doctor is another practitioner of the tenant who took
cover of the visit (`VisitCoverTaken`, with a reason, recorded on the visit's stream and shown
in its `covering`): the colleague on call, a handover at the end of a shift. Covering is
recorded, never implied, so the record always says in what capacity a doctor wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum

from backend.auth.principal import STAFF, Role
from backend.kernel.errors import Forbidden
from backend.visits.state import Visit, existing


class NotVisitOwner(Forbidden):
    code = "NOT_VISIT_OWNER"


class NotVitalsAuthor(Forbidden):
    code = "NOT_VITALS_AUTHOR"


class Act(StrEnum):
    NOTE = "write the note"
    PRESCRIPTIONS = "prescribe or stop a prescription"
    LAB_ORDERS = "order a lab test"
    RELEASE_RESULTS = "release a result to the patient"
    SIGN_OFF = "sign the visit off"
    VITALS = "chart vitals"
    VITALS_IN_ERROR = "mark a reading entered in error"
    COVER = "cover the visit"


class Holder(Enum):
    ANYONE = "anyone with the role"
    VISIT_DOCTOR = "the visit's doctor"
    COVERING_DOCTOR = "a covering doctor"
    CHARTED_IT = "who charted the reading"


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    holders: frozenset[Holder]
    refusal: type[Forbidden] = NotVisitOwner


_DOCTOR = frozenset({Role.DOCTOR})
_CLINICIANS = frozenset({Role.DOCTOR, Role.NURSE})
_RESPONSIBLE = frozenset({Holder.VISIT_DOCTOR, Holder.COVERING_DOCTOR})

POLICY: dict[Act, Rule] = {
    Act.NOTE: Rule(_DOCTOR, _RESPONSIBLE),
    Act.PRESCRIPTIONS: Rule(_DOCTOR, _RESPONSIBLE),
    Act.LAB_ORDERS: Rule(_DOCTOR, _RESPONSIBLE),
    Act.RELEASE_RESULTS: Rule(_DOCTOR, _RESPONSIBLE),
    Act.SIGN_OFF: Rule(STAFF, frozenset({Holder.VISIT_DOCTOR})),
    Act.VITALS: Rule(_CLINICIANS, frozenset({Holder.ANYONE})),
    Act.VITALS_IN_ERROR: Rule(
        _CLINICIANS, frozenset({Holder.CHARTED_IT, Holder.VISIT_DOCTOR}), NotVitalsAuthor
    ),
    Act.COVER: Rule(_DOCTOR, frozenset({Holder.ANYONE})),
}


def is_visit_doctor(state: Visit, actor: str, is_doctor: bool) -> bool:
    return is_doctor and actor == str(state.practitioner_id)


def holds(
    state: Visit, holder: Holder, actor: str, is_doctor: bool, charted_by: str | None
) -> bool:
    match holder:
        case Holder.ANYONE:
            return True
        case Holder.VISIT_DOCTOR:
            return is_visit_doctor(state, actor, is_doctor)
        case Holder.COVERING_DOCTOR:
            return is_doctor and actor in state.covering
        case Holder.CHARTED_IT:
            return charted_by is not None and actor == charted_by


def check(
    act: Act, state: Visit, actor: str, is_doctor: bool, charted_by: str | None = None
) -> None:
    """Refuses (403, the rule's code) a caller who holds none of the act's holders; a visit
    that does not exist is NOT_FOUND first."""
    existing(state)
    rule = POLICY[act]
    if not any(holds(state, h, actor, is_doctor, charted_by) for h in rule.holders):
        allowed = " or ".join(sorted(h.value for h in rule.holders))
        raise rule.refusal(f"only {allowed} may {act.value}")
