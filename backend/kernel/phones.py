"""Phone numbers, read with the `phonenumbers` library (pure).

A number is read with the tenant's phone region (its policy's `phone_region`), so a front desk
types numbers the way its patients give them ("(212) 555-0102" in a US clinic); a number typed
with its country code ("+44 20 7946 0958") reads the same in every region. It is recorded in
E.164 ("+12125550102"), which messages are sent to and duplicates compared on, beside the form
typed, which is what staff see.

Phones recorded before numbers were read this way were kept as typed, and may lack their
country code. They are read with the tenant's region where they are used (`dialable`,
`digit_forms`), never rewritten in their events.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from backend.kernel.errors import Invalid

DEFAULT_REGION = "US"
"""The region of a tenant that has not chosen one (the platform's defaults are American: its
currency is USD too)."""
REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)
"""ISO 3166-1 alpha-2 codes the library knows the numbering plan of."""


class PhoneInvalid(Invalid):
    """The text is not a phone number that can be dialled from the tenant's region."""

    code = "PHONE_INVALID"


@dataclass(frozen=True)
class Phone:
    e164: str
    as_typed: str


def parse(typed: str, region: str) -> Phone:
    """The number `typed` names, read in `region`; PhoneInvalid if it names none."""
    number = _number(typed, region)
    if number is None or not phonenumbers.is_valid_number(number):
        raise PhoneInvalid(
            "phone",
            f"not a valid phone number for region {region}: give it as dialled there, or"
            " with its country code (+44 20 7946 0958)",
        )
    return Phone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), typed)


def dialable(recorded: str | None, region: str) -> str | None:
    """The E.164 form of a recorded phone, which messages are sent to: a phone recorded in
    E.164 is its own; one recorded as typed (before numbers were read) is read in `region`.
    None when there is no phone or it names no valid number."""
    number = _number(recorded, region) if recorded else None
    if number is None or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def digits(recorded: str | None) -> str | None:
    """The digits of a recorded phone: what search and duplicate checks compare."""
    if recorded and recorded[0] == "+" and recorded[1:].isdigit():
        return recorded[1:]  # E.164, as phones are recorded: the same digits, without a pass
    return "".join(filter(str.isdigit, recorded or "")) or None


def digit_forms(text: str, region: str) -> list[str]:
    """Digit strings, any of which a recorded phone's `digits` contain when `text` names the
    same number: the digits typed, and when `text` reads as a number in `region`, its E.164
    digits and its national number (which a phone recorded as typed without its country code
    holds). Empty when `text` has no digits."""
    typed = digits(text)
    if typed is None:
        return []
    number = _number(text, region)
    forms = [typed]
    if number is not None and phonenumbers.is_valid_number(number):
        national = phonenumbers.national_significant_number(number)
        forms += [f"{number.country_code}{national}", national]
    return list(dict.fromkeys(forms))


def _number(text: str | None, region: str) -> phonenumbers.PhoneNumber | None:
    if not text or not text.isprintable():
        return None
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
