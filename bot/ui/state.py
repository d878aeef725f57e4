"""Reading a submitted modal's ``view.state.values``.

``state.values`` looks like ``{block_id: {action_id: {"type": ..., "value": ...}}}``; number inputs
arrive as strings, and Slack's own min/max checks are a convenience, so ``parse_number`` checks again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from commands.errors import InvalidInput

Values = Mapping[str, Mapping[str, Mapping[str, Any]]]


def _element(values: Values, block_id: str, action_id: str) -> Mapping[str, Any]:
    block = values.get(block_id) if isinstance(values, Mapping) else None
    element = block.get(action_id) if isinstance(block, Mapping) else None
    return element if isinstance(element, Mapping) else {}


def state_value(values: Values, block_id: str, action_id: str) -> str | None:
    """A text, URL or number input's value, stripped; ``None`` when empty or absent."""
    value = _element(values, block_id, action_id).get("value")
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def selected_value(values: Values, block_id: str, action_id: str) -> str | None:
    """A select's or radio group's chosen ``value``; ``None`` when nothing is chosen."""
    option = _element(values, block_id, action_id).get("selected_option")
    if not isinstance(option, Mapping):
        return None
    value = option.get("value")
    return str(value) if value not in (None, "") else None


def selected_option(values: Values, block_id: str, action_id: str) -> tuple[str, str] | None:
    """``(value, text)`` of a chosen option; the text is the value when Slack sent none."""
    value = selected_value(values, block_id, action_id)
    if value is None:
        return None
    option = _element(values, block_id, action_id).get("selected_option")
    text_obj = option.get("text") if isinstance(option, Mapping) else None
    text = text_obj.get("text") if isinstance(text_obj, Mapping) else None
    return value, str(text or value)


def state_files(values: Values, block_id: str, action_id: str) -> list[Mapping[str, Any]]:
    """A file input's files (each a Slack file object); empty when none were attached."""
    files = _element(values, block_id, action_id).get("files")
    return [f for f in files if isinstance(f, Mapping)] if isinstance(files, list) else []


def parse_number(
    raw: str | None,
    *,
    field: str,
    label: str,
    integer: bool,
    low: float,
    high: float,
    low_exclusive: bool = False,
) -> float | int | None:
    """A number input's string as an int or float within bounds; ``None`` when empty."""
    field = str(field)  # a plain str, never the StrEnum: error renderers serialise it as a JSON key
    if raw is None:
        return None
    if not raw.isascii():  # float() reads "١٢" and "１２" too; Slack's number inputs send ASCII
        raise InvalidInput(f"{label} must be a number.", field=field)
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{label} must be a number.", field=field) from None
    if not math.isfinite(value):
        raise InvalidInput(f"{label} must be a number.", field=field)
    if integer and not value.is_integer():
        raise InvalidInput(f"{label} must be a whole number.", field=field)
    too_low = value <= low if low_exclusive else value < low
    if too_low or value > high:
        low_word = f"above {low:g}" if low_exclusive else f"at least {low:g}"
        raise InvalidInput(f"{label} must be {low_word} and at most {high:g}.", field=field)
    return int(value) if integer else value
