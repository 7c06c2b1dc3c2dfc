"""How phones and names are compared: kernel.phones and patients.names (pure)."""

from __future__ import annotations

import unicodedata

import pytest

from backend.kernel.phones import PhoneInvalid, dialable, digit_forms, digits, parse
from backend.patients.names import fold, name_key, similar


@pytest.mark.parametrize(
    "typed", ["(212) 555-0102", "212-555-0102", "2125550102", "+1 (212) 555-0102", "+12125550102"]
)
def test_every_format_of_a_number_reads_as_one_e164(typed: str) -> None:
    assert parse(typed, "US").e164 == "+12125550102"
    assert parse(typed, "US").as_typed == typed


@pytest.mark.parametrize("typed", ["12", "call me", "+", "555-0100", "+1 555 0100", "030 1234567"])
def test_what_names_no_number_in_the_region_is_refused(typed: str) -> None:
    with pytest.raises(PhoneInvalid) as err:
        parse(typed, "US")
    assert (err.value.code, err.value.field) == ("PHONE_INVALID", "phone")
    assert "region US" in err.value.message


def test_a_number_with_its_country_code_reads_the_same_in_any_region() -> None:
    assert parse("+44 20 7946 0958", "US").e164 == parse("+44 20 7946 0958", "DE").e164


def test_a_phone_recorded_as_typed_is_dialled_in_e164() -> None:
    assert dialable("212-555-0103", "US") == "+12125550103"
    assert dialable("+12125550103", "DE") == "+12125550103"
    assert dialable("call me", "US") is None
    assert dialable(None, "US") is None


def test_a_number_in_any_format_finds_a_phone_recorded_in_e164_or_as_typed() -> None:
    for typed in ("+1 212 555 0101", "(212) 555-0101", "212.555.0101"):
        forms = digit_forms(typed, "US")
        for recorded in ("+12125550101", "2125550101", "+1 (212) 555-0101"):
            held = digits(recorded)
            assert held is not None and any(f in held for f in forms), (typed, recorded)
    assert digit_forms("0101", "US") == ["0101"]
    assert digit_forms("Ann", "US") == []


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("Garcia", "García"),
        ("oneil", "O'Neil"),
        ("ONEIL", "O\u2019Neil"),
        ("strasse", "Straße"),
        ("lukasz", "Łukasz"),
        ("soren", "Søren"),
        ("smith jones", "Smith-Jones"),
    ],
)
def test_a_name_is_found_whatever_its_accents_case_and_punctuation(typed: str, name: str) -> None:
    assert fold(typed) in name_key(name, "X")


def test_either_name_may_come_first() -> None:
    key = name_key("María", "García")
    assert fold("maria garcia") in key
    assert fold("García, María") in key


def test_similar_names_are_those_spelt_slightly_differently() -> None:
    assert similar(("Ann", "Lee"), ("Anne", "Lee"))
    assert similar(("Maria", "Garcia"), ("María", "García"))
    assert not similar(("Ann", "Lee"), ("Dan", "Lee"))
    assert not similar(("", ""), ("", ""))


def test_ascii_names_fold_as_the_general_path_folds_them() -> None:
    """`fold` takes a shortcut for ASCII text: every ASCII character keeps the key the Unicode
    path gives it (normalised, filtered; the letters it spells are none of them ASCII)."""
    for code in range(128):
        text = f"Ab{chr(code)}9"
        general = unicodedata.normalize("NFKD", text.casefold())
        expected = "".join(c for c in general if c.isalnum() and not unicodedata.combining(c))
        assert fold(text) == expected, repr(chr(code))
