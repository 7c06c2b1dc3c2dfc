"""Patients' names as search compares them (pure).

Staff type names as they hear them: "Garcia" for García, "oneil" for O'Neil, "Lee Ann" for Ann
Lee. A name's key keeps only its letters and digits, without accents, case-folded; the read
model holds each patient's key (`search_name`) and a search looks for the key of what was
typed inside it (LIKE: no index serves it under the read model's row-level security, see
docs/benchmarks.md).

The key is made here, in Python, rather than by PostgreSQL's `unaccent`: what `lower()` and
the regular-expression classes do with letters beyond ASCII depends on the database's locale
(under the C locale, Ольга keeps its capital and every Cyrillic letter counts as punctuation),
and the key of a search must be made exactly as the keys it is compared with. Python's Unicode
tables are the same in every deployment. Letters that Unicode does not decompose into a base
letter and an accent (ø, ł, æ...) are spelt as `unaccent` spells them.

The read model is not sealed (erasure redacts its rows: an erased patient's key is empty), so
keeping the key beside the names it is made from adds no personal data to it.
"""

from __future__ import annotations

import difflib
import unicodedata

_SPELT = str.maketrans(
    {
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "æ": "ae",
        "œ": "oe",
        "\u0131": "i",
        "ħ": "h",
    }
)
SIMILAR = 0.85
"""How alike two names' keys must be (difflib's ratio) to call them similar: "Ann Lee" and
"Anne Lee" are (0.92), "Ann Lee" and "Dan Lee" are not (0.83)."""


def fold(text: str) -> str:
    """`text` case-folded, without accents, punctuation or spaces. ASCII text (most names)
    takes a shortcut giving the same key: it has nothing to decompose or spell otherwise, and
    its case folding is `lower()`; a rebuild folds every patient's names."""
    if text.isascii():
        lower = text.lower()
        return lower if lower.isalnum() else "".join(filter(str.isalnum, lower))
    decomposed = unicodedata.normalize("NFKD", text.casefold()).translate(_SPELT)
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c))


def name_key(given_name: str, family_name: str) -> str:
    """What a patient's name is searched in: both orders of their names, folded, so that the
    family name may come first ("garcia maria")."""
    given, family = fold(given_name), fold(family_name)
    return f"{given}{family} {family}{given}"


def similar(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Whether two (given, family) names may be the same person's, spelt differently."""
    first, second = fold("".join(a)), fold("".join(b))
    return bool(first) and difflib.SequenceMatcher(None, first, second).ratio() >= SIMILAR
