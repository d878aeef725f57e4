"""The price table: its shape, tier overrides, and a malformed file refused with its line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from commands.costs.prices import Money, PriceFileError, load_prices, parse_prices

EXAMPLE = Path(__file__).parents[3] / "deploy" / "prices.example.yaml"

GOOD = """\
currency: USD
models:
  ftbot-tiny:
    training_per_million_tokens: 2.00
    hosting_per_hour: 1.70
    input_per_million_tokens: 0.30
    output_per_million_tokens: 1.20
    tiers:
      Developer:
        hosting_per_hour: 0
      GlobalStandard:
        training_per_hour: 5
  by-time:
    training_per_hour: 5.00
"""


def test_a_model_is_priced_and_its_tier_overrides_replace_its_own_prices() -> None:
    table = parse_prices(GOOD)
    rate = table.rate("ftbot-tiny")
    assert rate is not None and rate.currency == "USD"
    assert rate.training_per_million_tokens == Decimal("2.00") and rate.hosting_per_hour == Decimal("1.70")
    dev = table.rate("ftbot-tiny", "Developer")
    assert dev is not None and dev.hosting_per_hour == 0 and dev.input_per_million_tokens == Decimal("0.30")
    by_hour = table.rate("ftbot-tiny", "GlobalStandard")
    assert (
        by_hour is not None and by_hour.training_per_hour == 5 and by_hour.training_per_million_tokens is None
    )
    assert table.rate("ftbot-tiny", "NoSuchTier") == rate
    assert table.rate("unpriced-model") is None


def test_amounts_show_two_decimals_and_the_currency() -> None:
    assert str(Money(amount=Decimal("3.4"), currency="USD")) == "USD 3.40"
    assert str(Money(amount=Decimal("0.005"), currency="EUR")) == "EUR 0.01"
    assert str(Money(amount=Decimal("1234.5"), currency="USD")) == "USD 1,234.50"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("currency: USD\nmodels:\n  m:\n    hosting_per_hour: -1\n", 4, "greater than or equal to 0"),
        ("currency: USD\nmodels:\n  m:\n    hosting_per_hour: lots\n", 4, "hosting_per_hour"),
        ("currency: USD\nmodels:\n  m:\n    hosting_per_hr: 1\n", 4, "hosting_per_hr"),
        ("currency: dollars\nmodels: {}\n", 1, "currency"),
        ("currency: USD\nmodels:\n  m: [1\n", 4, "not valid YAML"),
        (
            "currency: USD\nmodels:\n  m:\n    training_per_hour: 1\n    training_per_million_tokens: 2\n",
            3,
            "not both",
        ),
        ("- just a list\n", 1, "expected a mapping"),
    ],
)
def test_a_malformed_table_names_its_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(PriceFileError) as caught:
        parse_prices(text, source="prices.yaml")
    assert caught.value.line == line, caught.value.message
    assert fragment in caught.value.message
    assert caught.value.message.startswith(f"prices.yaml, line {line}: ")


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PriceFileError, match="cannot be read"):
        load_prices(tmp_path / "missing.yaml")


def test_the_example_file_in_the_repository_loads() -> None:
    table = load_prices(EXAMPLE)
    assert "ftbot-tiny" in table.models
