"""Prescribing warnings from reference data (pure): duplicate therapy and maximum daily dose.

The data (backend/visits/medications.yaml) is read at the edge and handed in as a
`Formulary`. A warning never refuses: the prescriber sees it with the answer. A dose or a
frequency written in a way this module does not read ("1-2 tablets", "as directed") is not
checked against the maximum; the duplicate check needs only the name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ALLERGY = "allergy"
DUPLICATE_THERAPY = "duplicate_therapy"
MAX_DAILY_DOSE = "max_daily_dose"
_DOSE = re.compile(r"(\d+(?:\.\d+)?)\s*(mg|g|mcg|µg)")
_MG_PER = {"mg": Decimal(1), "g": Decimal(1000), "mcg": Decimal("0.001"), "µg": Decimal("0.001")}
_TIMES_A_DAY = {
    "od": 1,
    "qd": 1,
    "daily": 1,
    "once daily": 1,
    "once a day": 1,
    "nocte": 1,
    "at night": 1,
    "bd": 2,
    "bid": 2,
    "twice daily": 2,
    "twice a day": 2,
    "tds": 3,
    "tid": 3,
    "three times daily": 3,
    "three times a day": 3,
    "qds": 4,
    "qid": 4,
    "four times daily": 4,
    "four times a day": 4,
}
_N_TIMES = re.compile(r"(\d+)\s*(?:x|times)\s*(?:daily|a day|per day|/day)")
_EVERY = re.compile(r"(?:every|q)\s*(\d+)\s*(?:h|hr|hrs|hour|hours)")
_AS_NEEDED = re.compile(r"\s*(?:as needed|as required|prn)$")


@dataclass(frozen=True)
class Medication:
    name: str
    names: tuple[str, ...]
    therapy_class: str
    max_daily_mg: Decimal | None


@dataclass(frozen=True)
class Formulary:
    medications: tuple[Medication, ...] = ()

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Formulary:
        """The reference file's content; a malformed entry is a KeyError/ValueError at start."""
        return cls(
            tuple(
                Medication(
                    str(m["name"]),
                    tuple(str(n).casefold() for n in m["names"]),
                    str(m["class"]),
                    None if m.get("max_daily_mg") is None else Decimal(str(m["max_daily_mg"])),
                )
                for m in data["medications"]
            )
        )

    def known_as(self, medication: str) -> tuple[Medication, ...]:
        """The reference entries a prescribed medication's text names (whole words)."""
        text = medication.casefold()
        return tuple(
            m
            for m in self.medications
            if any(re.search(rf"\b{re.escape(n)}\b", text) for n in m.names)
        )


def daily_dose_mg(dose: str, frequency: str) -> Decimal | None:
    """`dose` times the times a day, in mg; None when either is not written in a form read here. "As
    needed" counts the most the frequency allows ("every 4 hours as needed": 6 a day)."""
    amount = _DOSE.fullmatch(dose.strip().casefold())
    times = _times_a_day(_AS_NEEDED.sub("", frequency.strip().casefold()))
    if amount is None or times is None:
        return None
    return Decimal(amount[1]) * _MG_PER[amount[2]] * times


def prescribing_warnings(
    formulary: Formulary,
    medication: str,
    dose: str,
    frequency: str,
    active: Iterable[Mapping[str, Any]],
) -> list[dict[str, str]]:
    """`active`: the patient's other active prescriptions ({prescription_id, medication})."""
    warnings = [
        {"rule": DUPLICATE_THERAPY, "message": message}
        for other in active
        if (message := _duplicate(formulary, medication, other)) is not None
    ]
    daily = daily_dose_mg(dose, frequency)
    for entry in formulary.known_as(medication):
        if daily is not None and entry.max_daily_mg is not None and daily > entry.max_daily_mg:
            warnings.append(
                {
                    "rule": MAX_DAILY_DOSE,
                    "message": f"{dose} {frequency} is {_mg(daily)} mg of "
                    f"{entry.name} a day; the maximum is {entry.max_daily_mg:f} mg",
                }
            )
    return warnings


def allergy_warnings(
    formulary: Formulary, medication: str, allergies: Iterable[Mapping[str, Any]]
) -> list[dict[str, str]]:
    """A warning per recorded allergy the medication may trigger: the allergen is the drug, one
    of its names, its class ("penicillin" for amoxicillin; a plural too), or a word of what was
    prescribed."""
    text = medication.casefold()
    entries = formulary.known_as(medication)
    warnings = []
    for allergy in allergies:
        allergen = " ".join(str(allergy["substance"]).casefold().split())
        singular = allergen.removesuffix("s")
        by_entry = next(
            (e for e in entries if {allergen, singular} & {e.name, e.therapy_class, *e.names}),
            None,
        )
        if by_entry is None and not re.search(rf"\b{re.escape(allergen)}\b", text):
            continue
        what = (
            medication
            if by_entry is None
            else f"{medication} ({by_entry.name}, {by_entry.therapy_class})"
        )
        reaction = f": {allergy['reaction']}" if allergy.get("reaction") else ""
        warnings.append(
            {
                "rule": ALLERGY,
                "message": f"{what} may trigger the patient's recorded allergy to "
                f"{allergy['substance']} ({allergy['severity']}{reaction})",
            }
        )
    return warnings


def _duplicate(formulary: Formulary, medication: str, other: Mapping[str, Any]) -> str | None:
    named = f"{other['medication']} (prescription {other['prescription_id']})"
    if medication.strip().casefold() == str(other["medication"]).strip().casefold():
        return f"{medication} is already prescribed: {named}"
    mine, theirs = formulary.known_as(medication), formulary.known_as(other["medication"])
    same_drug = {m.name for m in mine} & {m.name for m in theirs}
    if same_drug:
        return f"{', '.join(sorted(same_drug))} is already prescribed: {named}"
    same_class = {m.therapy_class for m in mine} & {m.therapy_class for m in theirs}
    if same_class:
        return f"{named} is of the same class ({', '.join(sorted(same_class))})"
    return None


def _mg(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01')).normalize():f}"


def _times_a_day(frequency: str) -> Decimal | None:
    if frequency in _TIMES_A_DAY:
        return Decimal(_TIMES_A_DAY[frequency])
    if (n := _N_TIMES.fullmatch(frequency)) is not None:
        return Decimal(n[1])
    if (every := _EVERY.fullmatch(frequency)) is not None and int(every[1]) > 0:
        return Decimal(24) / Decimal(every[1])
    return None
