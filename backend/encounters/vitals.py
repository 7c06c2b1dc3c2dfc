"""Vital signs and the physiological ranges a reading must fall in (pure)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from backend.kernel.errors import Invalid

RANGES: dict[str, tuple[Decimal, Decimal]] = {
    "heart_rate": (Decimal(20), Decimal(300)),
    "systolic": (Decimal(50), Decimal(300)),
    "diastolic": (Decimal(20), Decimal(200)),
    "temperature_c": (Decimal(25), Decimal(45)),
    "respiratory_rate": (Decimal(4), Decimal(80)),
    "spo2": (Decimal(50), Decimal(100)),
    "weight_kg": (Decimal("0.2"), Decimal(500)),
    "height_cm": (Decimal(20), Decimal(280)),
}
"""Inclusive bounds: anything outside is a typing error, not a patient."""


@dataclass(frozen=True)
class Readings:
    heart_rate: int | None = None
    systolic: int | None = None
    diastolic: int | None = None
    temperature_c: Decimal | None = None
    respiratory_rate: int | None = None
    spo2: int | None = None
    weight_kg: Decimal | None = None
    height_cm: Decimal | None = None


def check_readings(readings: Readings) -> None:
    values = dataclasses.asdict(readings)
    if all(v is None for v in values.values()):
        raise Invalid("vitals", "record at least one vital sign")
    for name, value in values.items():
        if value is None:
            continue
        low, high = RANGES[name]
        if not Decimal(value).is_finite() or not low <= value <= high:
            raise Invalid(name, f"must be between {low} and {high}")
    if (
        readings.systolic is not None
        and readings.diastolic is not None
        and readings.systolic <= readings.diastolic
    ):
        raise Invalid("systolic", "must be greater than diastolic")


def readings_view(readings: Readings) -> dict[str, Any]:
    """The given readings only, decimals as strings."""
    return {
        name: str(value) if isinstance(value, Decimal) else value
        for name, value in dataclasses.asdict(readings).items()
        if value is not None
    }
