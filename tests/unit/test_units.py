"""Units declared per field, with conversion (backend/specialties/units.py): a value given in
another unit is converted to its field's own before it is checked and recorded; the published
worked examples of HbA1c (IFCC-NGSP), BMI (CDC, metric and imperial) and eGFR (NKF) come out
of the shipped plugins' expressions."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from backend.kernel.errors import Invalid
from backend.specialties import capture
from backend.specialties.events import SpecialtyDataRecorded, SpecialtyEventRecorded
from backend.specialties.expressions import compile_expression
from backend.specialties.loading import ManifestError, load_plugin
from backend.specialties.registry import DEFAULT_DIR
from backend.specialties.units import data_in_own_units, in_own_unit
from backend.visits.state import Visit

DIABETES = load_plugin(DEFAULT_DIR / "diabetes")
ORTHO = load_plugin(DEFAULT_DIR / "orthopedics")
HBA1C = DIABETES.fields["hba1c"]
UNROUNDED_BMI = compile_expression("weight_kg / (height_cm / 100) ** 2")
RECORD_ID = uuid.UUID(int=7)
AT = dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)


def test_hba1c_in_percent_is_recorded_in_mmol_per_mol_by_the_ifcc_ngsp_master_equation() -> None:
    """IFCC = (NGSP - 2.15) x 10.929 (Hoelzel 2004): 7.0 % is 53 mmol/mol, 9.0 % is 75."""
    assert in_own_unit(HBA1C, {"value": 7.0, "unit": "%"}, "hba1c") == 53.0
    assert in_own_unit(HBA1C, {"value": 9, "unit": "%"}, "hba1c") == 74.9
    assert in_own_unit(HBA1C, {"value": 53, "unit": "mmol/mol"}, "hba1c") == 53
    assert in_own_unit(HBA1C, 53, "hba1c") == 53


def test_the_cdc_worked_examples_of_bmi_metric_and_imperial() -> None:
    """CDC: 68 kg and 165 cm is 24.98; 150 lb and 5 ft 5 in (65 in) is 24.96."""
    weight, height = ORTHO.fields["weight_kg"], ORTHO.fields["height_cm"]
    metric = {"weight_kg": 68, "height_cm": 165}
    imperial = {
        "weight_kg": in_own_unit(weight, {"value": 150, "unit": "lb"}, "w"),
        "height_cm": in_own_unit(height, {"value": 65, "unit": "in"}, "h"),
    }
    assert imperial == {"weight_kg": 68.04, "height_cm": 165.1}
    assert round(UNROUNDED_BMI.evaluate(metric), 2) == 24.98
    assert round(UNROUNDED_BMI.evaluate(imperial), 2) == 24.96
    bmi = ORTHO.calculators["bmi"].expression
    assert bmi is not None
    assert bmi.evaluate(metric) == bmi.evaluate(imperial) == 25.0


def test_egfr_from_creatinine_in_micromoles_per_litre() -> None:
    """NKF's worked example, a 55-year-old man with 1.2 mg/dL (106 umol/L): 71."""
    creatinine = in_own_unit(
        DIABETES.fields["creatinine"], {"value": 106, "unit": "umol/L"}, "creatinine"
    )
    assert creatinine == 1.2
    egfr = DIABETES.calculators["egfr"].expression
    assert egfr is not None
    assert egfr.evaluate({"creatinine": creatinine, "age_years": 55, "sex": "male"}) == 71


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        ({"value": 7, "unit": "mg"}, "hba1c.unit", "one of mmol/mol, %"),
        ({"value": "7", "unit": "%"}, "hba1c.value", "must be a number"),
        ({"value": True, "unit": "%"}, "hba1c.value", "must be a number"),
        ({"value": 7}, "hba1c", 'a value, or {"value": <number>, "unit": "<unit>"}'),
        ({"value": 25, "unit": "%"}, "hba1c", "must be at most 200 mmol/mol (25 % is 249.7"),
    ],
)
def test_a_value_in_a_unit_it_cannot_take_names_what_is_wrong(
    given: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(Invalid) as e:
        in_own_unit(HBA1C, given, "hba1c")
    assert e.value.field == field
    assert e.value.message.startswith(message)


def test_a_field_without_units_takes_only_its_own() -> None:
    with pytest.raises(Invalid, match="this field takes no unit"):
        in_own_unit(
            DIABETES.fields["diagnosis_year"], {"value": 2002, "unit": "year"}, "diagnosis_year"
        )


def test_specialty_data_of_other_plugins_and_unknown_fields_pass_through_for_their_checks() -> None:
    data = {
        "diabetes": {"hba1c": {"value": 7.0, "unit": "%"}, "typo": 1},
        "cardiac": {"nyha_class": "II"},
        "orthopedics": None,
    }
    assert data_in_own_units({"diabetes": DIABETES}, data) == {
        "diabetes": {"hba1c": 53.0, "typo": 1},
        "cardiac": {"nyha_class": "II"},
        "orthopedics": None,
    }


def test_a_visit_records_the_value_in_the_fields_unit() -> None:
    visit = Visit()
    given = {"diabetes": {"hba1c": {"value": 9.5, "unit": "%"}}}
    decided = capture.stream_data({"diabetes": DIABETES}, "visit", visit, given, {}, {}, {})
    [recorded] = [e for e in decided.events if isinstance(e, SpecialtyDataRecorded)]
    assert recorded.data == {"hba1c": 80.3}
    assert [w["rule"] for w in decided.warnings] == ["diabetes.hba1c_above_target"]


def test_event_fields_take_units_too(tmp_path: Path) -> None:
    folder = tmp_path / "neuro"
    folder.mkdir()
    (folder / "manifest.yaml").write_text(
        """apiVersion: caretrail.io/v1
kind: SpecialtyPlugin
metadata: {name: neuro, version: 1.0.0, displayName: Neurology}
spec:
  event_types:
    - id: lumbar_puncture
      name: Lumbar puncture
      category: procedure
      fields:
        - {name: glucose, type: number, unit: mmol/L, units: [{unit: mg/dL, convert: value / 18}]}
"""
    )
    neuro = load_plugin(folder)
    decided = capture.specialty_event(
        neuro,
        "visit",
        Visit(),
        "lumbar_puncture",
        {"glucose": {"value": 72, "unit": "mg/dL"}},
        RECORD_ID,
        AT,
        {},
        {},
        {},
    )
    [event] = [e for e in decided.events if isinstance(e, SpecialtyEventRecorded)]
    assert event.data == {"glucose": 4.0}


@pytest.mark.parametrize(
    ("field", "path", "message"),
    [
        (
            {"name": "x", "type": "string", "units": [{"unit": "a", "convert": "value"}]},
            "$.spec.fields[0].units",
            "only integer and number fields with a unit take units",
        ),
        (
            {"name": "x", "type": "number", "units": [{"unit": "a", "convert": "value"}]},
            "$.spec.fields[0].units",
            "only integer and number fields with a unit take units",
        ),
        (
            {"name": "x", "type": "number", "unit": "a", "units": [{"unit": "a", "convert": "1"}]},
            "$.spec.fields[0].units[0].unit",
            "'a' is declared twice",
        ),
        (
            {"name": "x", "type": "number", "unit": "a", "units": [{"unit": "b", "convert": "y"}]},
            "$.spec.fields[0].units[0].convert",
            "refused: uses y, which is not one of its inputs",
        ),
    ],
)
def test_the_loader_refuses_units_it_cannot_use(
    tmp_path: Path, field: dict[str, Any], path: str, message: str
) -> None:
    folder = tmp_path / "neuro"
    folder.mkdir()
    manifest = {
        "apiVersion": "caretrail.io/v1",
        "kind": "SpecialtyPlugin",
        "metadata": {"name": "neuro", "version": "1.0.0", "displayName": "Neurology"},
        "spec": {"fields": [{**field, "applies_to": ["patient"]}]},
    }
    (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    with pytest.raises(ManifestError) as refused:
        load_plugin(folder)
    assert (path, message) in [(p.path, p.message) for p in refused.value.problems]
