"""Python calculators of the orthopedics plugin (named by the manifest's `function`).

Each takes a dict of the calculator's inputs and returns its result.
"""

from __future__ import annotations

from typing import Any


def bmi_category(inputs: dict[str, Any]) -> str:
    """WHO adult BMI categories (Technical Report Series 894)."""
    metres = inputs["height_cm"] / 100
    bmi = inputs["weight_kg"] / (metres * metres)
    if bmi < 18.5:
        return "underweight"
    if bmi < 25:
        return "normal"
    if bmi < 30:
        return "overweight"
    return "obese"
