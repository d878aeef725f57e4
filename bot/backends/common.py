"""What every backend shares."""

from __future__ import annotations

from commands.errors import InvalidInput


def no_skus(kind: str, sku: str | None) -> None:
    """For a backend without deployment SKUs: refuse one, plainly."""
    if sku is not None:
        raise InvalidInput(
            f"The {kind} backend has no deployment SKUs: deploy without choosing one ({{sku}}).",
            field="sku",
            sku=sku,
        )
