"""Slack's limits on what ftbot sends, in one place, and a check that a built message or view keeps them.

Builders clip each text to its field's limit (``bot.ui.text.clip``, ``bot.ui.blocks``); ``message_problems``
and ``view_problems`` say what a built message or view breaks, so tests (and the fuzzer) can assert that
everything ftbot sends is valid Block Kit. They build it through ``slack_sdk.models``, which checks most
limits in ``to_dict()``, and then check what slack_sdk does not: blocks per message, each section field,
every text object, unique block ids, the fallback text, no live broadcast mention and no control
characters. Limits: Block Kit reference (https://docs.slack.dev/reference/block-kit/blocks) and
``chat.update`` (``msg_too_long``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS_MAX = 50  # blocks in one message
VIEW_BLOCKS_MAX = 100  # blocks in a modal or the Home tab
VIEW_BYTES_MAX = 250_000  # a view's JSON (view_too_large)
PRIVATE_METADATA_MAX = 3000
TEXT_MAX = 3000  # any text object, and a section's text
FIELD_MAX = 2000  # one of a section's fields
FIELDS_MAX = 10  # fields in one section
HEADER_MAX = 150  # a header block's text
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
URL_MAX = 3000  # a button's or an image's url
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
OPTIONS_MAX = 100  # options in a select or an options load
PLACEHOLDER_MAX = 150
INPUT_VALUE_MAX = 3000  # a text input's initial_value
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
CONFIRM_BUTTON_MAX = 30
VIEW_TITLE_MAX = 24  # a modal's title, submit and close
FALLBACK_MAX = 3000  # a message's ``text``: chat.update refuses over 4,000 characters (msg_too_long)

#: what would notify a whole channel or workspace; ftbot never sends one live (user text is escaped)
BROADCAST = re.compile(r"<!(channel|here|everyone)\b", re.IGNORECASE)
#: characters no text ftbot sends carries (C0 controls but tab and newline, DEL)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _built(block: Block | Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    try:
        parsed = Block.parse(dict(block) if isinstance(block, Mapping) else block)
        if parsed is None:
            return None, f"unknown block {str(block)[:80]}"
        return parsed.to_dict(), None
    except (SlackObjectFormationError, TypeError, ValueError, KeyError) as e:
        return None, f"block {_block_id(block)}: {e}"


def _block_id(block: Block | Mapping[str, Any]) -> str:
    return str(block.get("block_id") if isinstance(block, Mapping) else getattr(block, "block_id", None))


def _texts(node: object, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every text object (``{"type": "plain_text" | "mrkdwn", "text": …}``) under ``node``, with its path."""
    if isinstance(node, dict):
        if node.get("type") in ("plain_text", "mrkdwn") and "text" in node:
            yield path, node
        for key, value in node.items():
            yield from _texts(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _texts(value, f"{path}[{i}]")


def _block_problems(built: list[dict[str, Any]]) -> list[str]:
    problems = []
    seen: set[str] = set()
    for i, block in enumerate(built):
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in seen:
                problems.append(f"blocks[{i}]: block_id {block_id[:80]!r} is repeated")
            seen.add(block_id)
        for j, field in enumerate(block.get("fields") or []):
            if len(field.get("text", "")) > FIELD_MAX:
                problems.append(f"blocks[{i}].fields[{j}]: over {FIELD_MAX} characters")
        for path, text in _texts(block, f"blocks[{i}]"):
            value = text["text"]
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{path}: empty text")
            elif len(value) > TEXT_MAX:
                problems.append(f"{path}: text over {TEXT_MAX} characters")
            problems += _shown_problems(value, path)
    return problems


def _shown_problems(value: object, path: str) -> list[str]:
    """What a text people read must not hold: a live broadcast mention, a control character."""
    problems = []
    if isinstance(value, str) and BROADCAST.search(value):
        problems.append(f"{path}: a live broadcast mention")
    if isinstance(value, str) and CONTROL.search(value):
        problems.append(f"{path}: a control character")
    return problems


def blocks_problems(blocks: Sequence[Block | Mapping[str, Any]], *, most: int) -> list[str]:
    """What ``blocks`` break: slack_sdk's checks of each block, then the ones it lacks."""
    problems = []
    if len(blocks) > most:
        problems.append(f"{len(blocks)} blocks, more than {most}")
    built = []
    for block in blocks:
        as_dict, problem = _built(block)
        if problem:
            problems.append(problem)
        elif as_dict is not None:
            built.append(as_dict)
    return problems + _block_problems(built)


def message_problems(text: str | None, blocks: Sequence[Block | Mapping[str, Any]] = ()) -> list[str]:
    """What a message (its fallback ``text`` and its blocks) breaks; empty when Slack would take it."""
    problems = blocks_problems(blocks, most=MESSAGE_BLOCKS_MAX)
    if text is not None:
        if len(text) > FALLBACK_MAX:
            problems.append(f"text: over {FALLBACK_MAX} characters")
        problems += _shown_problems(text, "text")
    if not blocks and not (text or "").strip():
        problems.append("a message with neither text nor blocks")
    return problems


def view_problems(view: View | Mapping[str, Any]) -> list[str]:
    """What a modal or Home view breaks; empty when Slack would take it."""
    try:
        built = (view if isinstance(view, View) else View(**dict(view))).to_dict()
    except (SlackObjectFormationError, TypeError, ValueError, KeyError) as e:
        return [f"view: {e}"]
    problems = blocks_problems(built.get("blocks") or [], most=VIEW_BLOCKS_MAX)
    size = len(json.dumps(built, ensure_ascii=False).encode())
    if size > VIEW_BYTES_MAX:
        problems.append(f"view: {size} bytes, more than {VIEW_BYTES_MAX}")
    for key in ("title", "submit", "close"):
        if key in built:
            problems += _shown_problems(built[key].get("text"), key)
    return problems
