"""kernel.values: frozen dataclass values made and changed as their `__init__` and
`dataclasses.replace` would, without them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from backend.kernel import values
from backend.patients.events import PatientRegistered
from backend.patients.model import Patient


@dataclass(frozen=True)
class Checked:
    n: int
    seen: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError("negative")
        self.seen.append(self.n)


@dataclass(frozen=True)
class Derived:
    n: int
    twice: int = field(init=False, default=0)


def _registered() -> dict[str, Any]:
    return {
        "patient_id": uuid.uuid4(),
        "given_name": "Ada",
        "family_name": "Lovelace",
        "birth_date": dt.date(1815, 12, 10),
        "sex": "female",
        "phone": "+12125550100",
        "email": None,
        "specialty_data": {},
        "phone_as_typed": "212 555 0100",
    }


def test_make_gives_what_init_gives_every_field_given() -> None:
    kwargs = _registered()
    made = values.make(PatientRegistered, dict(kwargs))
    assert made == PatientRegistered(**kwargs)
    assert type(made) is PatientRegistered
    assert dataclasses.asdict(made) == dataclasses.asdict(PatientRegistered(**kwargs))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.given_name = "x"  # type: ignore[misc]


def test_make_fills_defaults_with_a_fresh_value_from_each_factory() -> None:
    kwargs = {"id": uuid.uuid4(), "given_name": "Ada", "specialty_data": {"a": 1}}
    first, second = values.make(Patient, dict(kwargs)), values.make(Patient, dict(kwargs))
    assert first == Patient(**kwargs)  # type: ignore[arg-type]
    assert first.calculations == {} and first.calculations is not second.calculations
    assert first.merged_from == () and first.erased is False and first.died_at is None
    assert vars(first) == vars(Patient(**kwargs))  # type: ignore[arg-type]


def test_make_refuses_what_init_refuses() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        values.make(Patient, {"colour": "red"})
    missing = _registered()
    del missing["given_name"]
    with pytest.raises(TypeError, match="given_name"):
        values.make(PatientRegistered, missing)


def test_make_goes_through_init_for_post_init_and_non_init_fields() -> None:
    checked = values.make(Checked, {"n": 2})
    assert checked.seen == [2]  # __post_init__ ran
    with pytest.raises(ValueError, match="negative"):
        values.make(Checked, {"n": -1})
    with pytest.raises(TypeError):
        values.make(Derived, {"n": 1, "twice": 2})  # not an __init__ argument
    assert values.make(Derived, {"n": 1}) == Derived(1)


def test_replaced_gives_what_replace_gives_and_leaves_the_value_alone() -> None:
    patient = Patient(id=uuid.uuid4(), given_name="Ada", phone="+1")
    changed = values.replaced(patient, phone="+2", phone_as_typed="2")
    assert changed == dataclasses.replace(patient, phone="+2", phone_as_typed="2")
    assert patient.phone == "+1" and patient.phone_as_typed is None
    assert list(vars(changed)) == [f.name for f in dataclasses.fields(Patient)]
    assert values.replaced(patient) == patient and values.replaced(patient) is not patient


def test_replaced_refuses_what_replace_refuses() -> None:
    patient = Patient(id=uuid.uuid4())
    with pytest.raises(TypeError, match="colour"):
        values.replaced(patient, colour="red")
    with pytest.raises(ValueError, match="negative"):
        values.replaced(Checked(1), n=-1)  # through __post_init__ again
    with pytest.raises(ValueError, match="init=False"):
        values.replaced(Derived(1), twice=3)
