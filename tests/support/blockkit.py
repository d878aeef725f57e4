"""Assertions that what ftbot sends is valid Block Kit: it builds through ``slack_sdk.models`` and keeps
the field limits of Slack's reference (``bot.ui.limits``), with no live broadcast mention and no
control character in any text. For builder tests and the fuzzer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.ui.limits import MESSAGE_BLOCKS_MAX, blocks_problems, message_problems, view_problems

Blocks = Sequence[Block | Mapping[str, Any]]


def assert_valid_blocks(
    blocks: Sequence[Block | Mapping[str, Any]], *, most: int = MESSAGE_BLOCKS_MAX
) -> None:
    problems = blocks_problems(blocks, most=most)
    assert not problems, "not valid Block Kit:\n" + "\n".join(problems)


def assert_valid_message(text: str | None, blocks: Blocks = ()) -> None:
    problems = message_problems(text, blocks)
    assert not problems, "not a valid message:\n" + "\n".join(problems)


def assert_valid_view(view: View | Mapping[str, Any]) -> None:
    problems = view_problems(view)
    assert not problems, "not a valid view:\n" + "\n".join(problems)
