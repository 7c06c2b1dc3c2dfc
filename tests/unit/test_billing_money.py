"""Money rules: decimal strings with two places, percentages, rounding half up."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backend.billing.money import MAX_AMOUNT, parse_amount, parse_percent, percent_of


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", "0.00"), ("12", "12.00"), ("12.5", "12.50"), ("12.50", "12.50"), (" 7.05 ", "7.05")],
)
def test_amounts_are_quantized_to_cents(text: str, expected: str) -> None:
    value = parse_amount(text)
    assert value == Decimal(expected)
    assert str(value) == expected


@pytest.mark.parametrize("text", ["12.505", "0.001", "12.500", "1.0000"])
def test_more_than_two_places_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="at most 2 decimal places"):
        parse_amount(text)


@pytest.mark.parametrize("text", ["", "abc", "NaN", "Infinity", "-Infinity", "1,5", "sNaN"])
def test_non_numbers_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="decimal string"):
        parse_amount(text)


def test_range() -> None:
    with pytest.raises(ValueError, match=r"from 0\.00"):
        parse_amount("-0.01")
    with pytest.raises(ValueError, match=r"from 0\.01"):
        parse_amount("0", positive=True)
    assert parse_amount("0.01", positive=True) == Decimal("0.01")
    assert parse_amount(str(MAX_AMOUNT)) == MAX_AMOUNT
    with pytest.raises(ValueError):
        parse_amount("1000000000.00")


@pytest.mark.parametrize("text", ["0", "10", "12.5", "99.99", "100", "100.00"])
def test_percentages_from_0_to_100(text: str) -> None:
    assert parse_percent(text) == Decimal(text)


@pytest.mark.parametrize("text", ["-1", "100.01", "10.001", "x", "NaN"])
def test_bad_percentages(text: str) -> None:
    with pytest.raises(ValueError):
        parse_percent(text)


@pytest.mark.parametrize(
    ("amount", "percent", "expected"),
    [
        ("100.00", "10", "10.00"),
        ("0.05", "50", "0.03"),  # 0.025 rounds half up
        ("0.15", "50", "0.08"),  # 0.075 rounds half up, not to even
        ("33.33", "33.33", "11.11"),  # 11.108889
        ("10.00", "0", "0.00"),
        ("10.00", "100", "10.00"),
    ],
)
def test_percent_of_rounds_half_up_to_the_cent(amount: str, percent: str, expected: str) -> None:
    result = percent_of(Decimal(amount), Decimal(percent))
    assert str(result) == expected
