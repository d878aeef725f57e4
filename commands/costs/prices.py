"""The operator's price table (``FTBOT_PRICES``): what each base model costs to train, host and call.

ftbot never invents a price: a model the table does not name is shown with token counts only. The table
is validated when it is read; a malformed file is refused with the line of the first problem.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from commands.errors import InvalidInput

CENT = Decimal("0.01")
MILLION = Decimal(1_000_000)
#: an amount in the table: not negative, at most six decimals
Amount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=6)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TierPrice(_Strict):
    """Overrides for one training tier or deployment SKU: the fields given replace the model's own."""

    training_per_million_tokens: Amount | None = None
    training_per_hour: Amount | None = None
    hosting_per_hour: Amount | None = None
    input_per_million_tokens: Amount | None = None
    output_per_million_tokens: Amount | None = None


class ModelPrice(TierPrice):
    """A base model's prices in the table's currency. Training is billed by the token or by the hour,
    never both; ``tiers`` holds overrides keyed by training tier or deployment SKU name."""

    tiers: dict[str, TierPrice] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_training_basis(self) -> ModelPrice:
        if self.training_per_million_tokens is not None and self.training_per_hour is not None:
            raise ValueError("give training_per_million_tokens or training_per_hour, not both")
        return self

    def for_tier(self, tier: str | None) -> Rate:
        """The prices for ``tier`` (a training tier or deployment SKU); the model's own where the tier
        names none. A tier's per-hour training replaces the model's per-token price and the other way
        round."""
        own = self.model_dump(exclude={"tiers"})
        override = self.tiers.get(tier) if tier else None
        if override is not None:
            given = override.model_dump(exclude_none=True)
            if "training_per_hour" in given:
                own["training_per_million_tokens"] = None
            if "training_per_million_tokens" in given:
                own["training_per_hour"] = None
            own.update(given)
        return Rate(currency="", **own)


class Rate(TierPrice):
    """One model's prices at one moment, with the currency: what a cost fact keeps so a later change of
    the table never rewrites what was spent."""

    currency: str

    def with_currency(self, currency: str) -> Rate:
        return self.model_copy(update={"currency": currency})


class PriceTable(_Strict):
    currency: str = Field(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")
    models: dict[str, ModelPrice] = Field(default_factory=dict)

    def rate(self, model: str, tier: str | None = None) -> Rate | None:
        """The prices of ``model`` (the name ``/finetune models`` shows) for ``tier``; None if unpriced."""
        price = self.models.get(model)
        return price.for_tier(tier).with_currency(self.currency) if price is not None else None


EMPTY = PriceTable(currency="USD")


class Money(_Strict):
    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.currency} {self.amount.quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(amount=self.amount + other.amount, currency=self.currency)


class PriceFileError(InvalidInput):
    """The price file cannot be used: ``line`` is where the first problem is (None: the whole file)."""

    def __init__(self, source: str, line: int | None, problem: str) -> None:
        where = f"{source}, line {line}" if line else source
        super().__init__("{where}: {problem}", where=where, problem=problem)
        self.line = line
        self.problem = problem


def load_prices(path: Path) -> PriceTable:
    """Read and validate the price file at ``path``. ``PriceFileError`` names the line of a problem."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # pragma: no mutate (codec names ignore case)
    except (OSError, UnicodeDecodeError) as e:
        raise PriceFileError(str(path), None, f"cannot be read ({type(e).__name__})") from e
    return parse_prices(text, source=str(path))


def parse_prices(text: str, *, source: str = "FTBOT_PRICES") -> PriceTable:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)  # pragma: no mutate (any Loader composes alike)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(e, "problem", None) or "is not valid YAML"
        raise PriceFileError(source, line, f"not valid YAML ({problem})") from e
    if not isinstance(data, dict):
        raise PriceFileError(source, 1, "expected a mapping with 'currency' and 'models'")
    try:
        return PriceTable.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        loc = tuple(first.get("loc") or ())
        where = ".".join(str(p) for p in loc) or "the file"  # pragma: no mutate (loc: never empty here)
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")  # pragma: no mutate
        raise PriceFileError(source, _line_of(root, loc), f"{where}: {message}") from e


def _line_of(node: Any, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (the deepest one that exists)."""
    if node is None:
        return None
    line: int = node.start_mark.line + 1
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        found = next((item for item in node.value if item[0].value == str(part)), None)
        if found is None:
            break
        key, node = found
        line = (node.start_mark.line if isinstance(node, yaml.ScalarNode) else key.start_mark.line) + 1
    return line
