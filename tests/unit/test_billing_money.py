"""Money rules: plain ASCII decimal strings parsed by one function, places as the currency's
ISO 4217 minor unit (JPY 0, USD 2, KWD 3), percentages with two places, rounding half up."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backend.kernel.money import (
    MAX_AMOUNT,
    minor_units,
    parse_amount,
    parse_decimal,
    parse_money,
    parse_percent,
    percent_of,
    show,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", "0.00"), ("12", "12.00"), ("12.5", "12.50"), ("12.50", "12.50"), ("007.05", "7.05")],
)
def test_amounts_are_quantized_to_the_minor_unit(text: str, expected: str) -> None:
    value = parse_money(text, "USD")
    assert (value, str(value)) == (Decimal(expected), expected)


@pytest.mark.parametrize(
    "text",
    [
        "1e2",
        "1E2",
        "1e-2",
        "+5.00",
        "-5.00",
        "1_000.00",
        "1,000.00",
        " 1.00",
        "1.00 ",
        "1.00\n",
        "\u0661\u0662.\u0665\u0660",  # Arabic-Indic digits
        "\uff11\uff12",  # fullwidth digits
        "12.",
        ".5",
        "",
        "abc",
        "NaN",
        "Infinity",
        "sNaN",
        "0x10",
    ],
)
def test_only_plain_ascii_decimal_strings_are_numbers(text: str) -> None:
    with pytest.raises(ValueError, match="plain decimal string"):
        parse_decimal(text)
    with pytest.raises(ValueError):
        parse_money(text, "USD")


def test_places_are_the_currencys_minor_unit_from_iso_4217() -> None:
    assert (minor_units("JPY"), minor_units("USD"), minor_units("KWD")) == (0, 2, 3)
    assert str(parse_money("904", "JPY")) == "904"
    assert str(parse_money("1.250", "KWD")) == "1.250"
    assert str(parse_money("1.25", "KWD")) == "1.250"
    too_fine = (("0.50", "JPY"), ("904.95", "JPY"), ("12.505", "USD"), ("1.2345", "KWD"))
    for text, currency in too_fine:
        with pytest.raises(ValueError, match=f"at most {minor_units(currency)} decimal places"):
            parse_money(text, currency)
    # Places as written: "12.500" says more than a cent was meant.
    with pytest.raises(ValueError, match="at most 2 decimal places"):
        parse_money("12.500", "USD")


@pytest.mark.parametrize("code", ["XYZ", "usd", "US", "USDX", "", "XAU", "XTS", "XXX"])
def test_currency_codes_are_iso_4217_currencies_with_a_minor_unit(code: str) -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        minor_units(code)
    with pytest.raises(ValueError, match="ISO 4217"):
        parse_money("1", code)


def test_range() -> None:
    with pytest.raises(ValueError, match=r"from 1 to"):
        parse_money("0", "JPY", positive=True)
    with pytest.raises(ValueError, match=r"from 0\.01"):
        parse_money("0", "USD", positive=True)
    assert parse_money("0.01", "USD", positive=True) == Decimal("0.01")
    assert parse_money(str(MAX_AMOUNT), "USD") == MAX_AMOUNT
    with pytest.raises(ValueError):
        parse_money("1000000000.00", "USD")


def test_amounts_before_the_currency_is_known_have_two_places() -> None:
    """A visit's services are priced before billing knows the tenant's currency."""
    assert str(parse_amount("80")) == "80.00"
    with pytest.raises(ValueError, match="at most 2 decimal places"):
        parse_amount("80.001")
    with pytest.raises(ValueError, match="plain decimal string"):
        parse_amount("1e2")


@pytest.mark.parametrize("text", ["0", "10", "12.5", "99.99", "100", "100.00"])
def test_percentages_from_0_to_100(text: str) -> None:
    assert parse_percent(text) == Decimal(text)


@pytest.mark.parametrize("text", ["-1", "100.01", "10.001", "5.555", "x", "NaN", "1e1", " 5"])
def test_bad_percentages(text: str) -> None:
    with pytest.raises(ValueError):
        parse_percent(text)


@pytest.mark.parametrize(
    ("amount", "percent", "currency", "expected"),
    [
        ("100.00", "10", "USD", "10.00"),
        ("0.05", "50", "USD", "0.03"),  # 0.025 rounds half up
        ("0.15", "50", "USD", "0.08"),  # 0.075 rounds half up, not to even
        ("33.33", "33.33", "USD", "11.11"),  # 11.108889
        ("10.00", "0", "USD", "0.00"),
        ("10.00", "100", "USD", "10.00"),
        ("905", "10", "JPY", "91"),  # 90.5 yen rounds half up to whole yen
        ("1.005", "50", "KWD", "0.503"),
    ],
)
def test_percent_of_rounds_half_up_to_the_minor_unit(
    amount: str, percent: str, currency: str, expected: str
) -> None:
    assert str(percent_of(Decimal(amount), Decimal(percent), currency)) == expected


def test_amounts_are_shown_in_their_currencys_places_never_rounded() -> None:
    assert (show(Decimal("904.00"), "JPY"), show(Decimal("1.5"), "KWD")) == ("904", "1.500")
    assert show(Decimal("80"), "USD") == "80.00"
    # Recorded before places were enforced, or in a code that is not ISO 4217: as recorded.
    assert show(Decimal("904.95"), "JPY") == "904.95"
    assert show(Decimal("12.5"), "XYZ") == "12.50"
