"""Which recorded allergens a prescription may trigger (backend/visits/formulary.py)."""

from __future__ import annotations

from backend.visits.formulary import allergy_warnings
from backend.visits.prescribing import formulary


def _warned(medication: str, *substances: str) -> list[str]:
    allergies = [{"substance": s, "reaction": None, "severity": "unknown"} for s in substances]
    return [w["message"] for w in allergy_warnings(formulary(), medication, allergies)]


def test_the_drug_its_names_its_class_or_a_word_of_the_prescription_match() -> None:
    assert len(_warned("Amoxicillin 500 mg", "amoxicillin")) == 1
    assert len(_warned("Amoxil", "Amoxicillin")) == 1  # a brand of the drug
    assert len(_warned("amoxicillin", "penicillin")) == 1  # its class
    assert len(_warned("amoxicillin", "Penicillins")) == 1  # the class, plural
    assert len(_warned("ibuprofen", "NSAIDs")) == 1
    assert len(_warned("co-trimoxazole (sulfamethoxazole)", "sulfamethoxazole")) == 1  # a word


def test_other_substances_do_not() -> None:
    assert _warned("paracetamol", "penicillin", "latex", "peanuts") == []
    assert _warned("ibuprofen", "codeine") == []
