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


# --- exact messages, lines and the tier rules ----------------------------------------------------------


def _error(text: str) -> PriceFileError:
    with pytest.raises(PriceFileError) as caught:
        parse_prices(text, source="p.yaml")
    return caught.value


def test_both_training_bases_are_refused_with_the_whole_message() -> None:
    err = _error(
        "currency: USD\nmodels:\n  m:\n    training_per_hour: 1\n    training_per_million_tokens: 2\n"
    )
    assert err.message == (
        "p.yaml, line 3: models.m: give training_per_million_tokens or training_per_hour, not both"
    )
    assert err.problem == "models.m: give training_per_million_tokens or training_per_hour, not both"
    assert (err.line, err.field) == (3, None)
    assert parse_prices("currency: USD\nmodels:\n  a:\n    training_per_hour: 1\n").rate("a") is not None


def test_the_source_is_the_setting_unless_named() -> None:
    with pytest.raises(PriceFileError) as caught:
        parse_prices("- a list\n")
    assert caught.value.message == "FTBOT_PRICES, line 1: expected a mapping with 'currency' and 'models'"


def test_a_list_instead_of_a_mapping_is_named_exactly() -> None:
    err = _error("- just a list\n")
    assert err.message == "p.yaml, line 1: expected a mapping with 'currency' and 'models'"
    assert _error("").line == 1  # an empty file is no mapping either


def test_bad_yaml_names_the_parser_problem_and_its_line() -> None:
    err = _error("currency: USD\nmodels:\n  m: [1\n")
    assert err.line == 4
    assert err.problem == "not valid YAML (expected ',' or ']', but got '<stream end>')"
    # a character YAML does not accept: no mark, no problem text of the parser's own
    unreadable = _error("currency: USD\x07\n")
    assert (unreadable.line, unreadable.message) == (None, "p.yaml: not valid YAML (is not valid YAML)")


def test_the_line_is_that_of_the_deepest_node_the_file_has() -> None:
    # a scalar value on its own line: the value's line, not its key's
    assert _error("currency: USD\nmodels:\n  m:\n    hosting_per_hour:\n      -1\n").line == 5
    # a missing key: the line of the mapping that lacks it
    assert _error("# prices\n\nmodels: {}\n").line == 3
    assert _error("# prices\n\nmodels: {}\n").message == "p.yaml, line 3: currency: Field required"
    missing = _error("currency: USD\nmodels:\n  m:\n    tiers:\n      Dev:\n        hosting_per_hr: 1\n")
    assert missing.line == 6
    # the error goes below a scalar (a dict key that is not a string): the scalar's line
    assert _error("currency: USD\nmodels:\n  1: 5\n").line == 3


def test_a_tier_billed_by_the_token_replaces_a_model_billed_by_the_hour() -> None:
    table = parse_prices(
        "currency: EUR\nmodels:\n  m:\n    training_per_hour: 5\n    hosting_per_hour: 2\n"
        "    tiers:\n      Tok:\n        training_per_million_tokens: 3\n"
        "      '':\n        hosting_per_hour: 9\n"
    )
    tok = table.rate("m", "Tok")
    assert tok is not None
    assert (tok.training_per_hour, tok.training_per_million_tokens, tok.hosting_per_hour) == (
        None,
        Decimal(3),
        Decimal(2),
    )
    assert tok.currency == "EUR"
    own = table.rate("m")
    assert own is not None and (own.training_per_hour, own.hosting_per_hour) == (Decimal(5), Decimal(2))
    assert table.rate("m", "") == own  # no tier named: the model's own prices
    assert table.models["m"].for_tier(None).currency == ""  # the table adds its currency


def test_money_adds_in_one_currency_only() -> None:
    usd = Money(amount=Decimal("1.50"), currency="USD")
    assert usd + Money(amount=Decimal("2.25"), currency="USD") == Money(
        amount=Decimal("3.75"), currency="USD"
    )
    with pytest.raises(ValueError, match=r"^cannot add EUR to USD$"):
        usd + Money(amount=Decimal(1), currency="EUR")
    assert str(Money(amount=Decimal("2.665"), currency="USD")) == "USD 2.67"  # half up, not to even
    assert str(Money(amount=Decimal("0.125"), currency="USD")) == "USD 0.13"


def test_a_price_file_error_names_its_source_and_line() -> None:
    err = PriceFileError("prices.yaml", 7, "models.m: bad")
    assert (err.message, err.line, err.problem) == ("prices.yaml, line 7: models.m: bad", 7, "models.m: bad")
    whole = PriceFileError("prices.yaml", None, "cannot be read (OSError)")
    assert (whole.message, whole.line) == ("prices.yaml: cannot be read (OSError)", None)
    assert whole.names == {"where": "prices.yaml", "problem": "cannot be read (OSError)"}


def test_a_file_is_read_as_utf8_with_or_without_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_bytes("\ufeffcurrency: USD\nmodels:\n  modèle-ü:\n    hosting_per_hour: 1.5\n".encode())
    table = load_prices(path)
    assert table.rate("modèle-ü") is not None
    missing = tmp_path / "missing.yaml"
    with pytest.raises(PriceFileError) as caught:
        load_prices(missing)
    assert caught.value.message == f"{missing}: cannot be read (FileNotFoundError)"
    assert caught.value.line is None
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("currency: USD\nmodels:\n  modèle: {}\n".encode("latin-1"))
    with pytest.raises(PriceFileError) as bad:
        load_prices(latin)
    assert bad.value.message == f"{latin}: cannot be read (UnicodeDecodeError)"


def test_a_problem_in_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text("currency: usd\nmodels: {}\n", encoding="utf-8")
    with pytest.raises(PriceFileError) as caught:
        load_prices(path)
    assert caught.value.message.startswith(f"{path}, line 1: currency: ")
