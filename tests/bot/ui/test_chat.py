from __future__ import annotations

from typing import Any

import orjson
import pytest

from bot.ui.chat import parse_test_chat
from bot.ui.chat import test_chat_modal as chat_modal  # aliased: pytest would collect a test_* name
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from commands.errors import InvalidInput
from tests.bot.ui.helpers import HOSTILE, assert_escaped, assert_view_ok, block, make_endpoint


def _values(
    prompt: str | None = "Where is my order?",
    system: str | None = None,
    temperature: str | None = "0.7",
    max_tokens: str | None = "256",
) -> dict[str, Any]:
    return {
        B.CHAT_PROMPT: {Action.CHAT_PROMPT: {"type": "plain_text_input", "value": prompt}},
        B.CHAT_SYSTEM: {Action.CHAT_SYSTEM: {"type": "plain_text_input", "value": system}},
        B.CHAT_TEMPERATURE: {Action.CHAT_TEMPERATURE: {"type": "number_input", "value": temperature}},
        B.CHAT_MAX_TOKENS: {Action.CHAT_MAX_TOKENS: {"type": "number_input", "value": max_tokens}},
    }


def test_modal_shape() -> None:
    d = assert_view_ok(chat_modal(make_endpoint()))
    assert d["callback_id"] == Callback.TEST_CHAT and d["private_metadata"] == "phi-support-ep"
    assert d["submit"]["text"] == "Send"
    prompt = block(d["blocks"], B.CHAT_PROMPT)
    assert prompt["element"]["multiline"] is True and prompt["element"]["action_id"] == Action.CHAT_PROMPT
    assert block(d["blocks"], B.CHAT_SYSTEM)["optional"] is True
    temperature = block(d["blocks"], B.CHAT_TEMPERATURE)["element"]
    assert temperature["type"] == "number_input" and temperature["is_decimal_allowed"] is True
    assert (temperature["min_value"], temperature["max_value"], temperature["initial_value"]) == (
        "0",
        "2",
        "0.7",
    )
    max_tokens = block(d["blocks"], B.CHAT_MAX_TOKENS)["element"]
    assert max_tokens["is_decimal_allowed"] is False
    assert (max_tokens["min_value"], max_tokens["max_value"], max_tokens["initial_value"]) == (
        "1",
        "4096",
        "256",
    )
    assert "key" not in str(d).lower()


def test_modal_escapes_the_endpoint_name() -> None:
    d = assert_view_ok(chat_modal(make_endpoint(name=HOSTILE)))
    assert_escaped(d["blocks"])
    assert d["private_metadata"] == HOSTILE  # machine value, not displayed


def test_parse_a_prompt_with_system_message() -> None:
    request = parse_test_chat(_values(system="Be brief.", temperature="0.2", max_tokens="100"))
    assert [(m.role, m.content) for m in request.messages] == [
        ("system", "Be brief."),
        ("user", "Where is my order?"),
    ]
    assert request.temperature == 0.2 and request.max_tokens == 100


def test_empty_numbers_take_the_defaults() -> None:
    request = parse_test_chat(_values(temperature=None, max_tokens=None))
    assert request.temperature == 0.7 and request.max_tokens == 256
    assert [m.role for m in request.messages] == ["user"]


def test_a_long_prompt_is_accepted() -> None:
    assert len(parse_test_chat(_values(prompt="x" * 10_000)).messages[0].content) == 10_000


@pytest.mark.parametrize(
    ("values", "field"),
    [
        (_values(prompt=None), B.CHAT_PROMPT),
        (_values(prompt="   \n "), B.CHAT_PROMPT),
        (_values(prompt="x" * 20_001), B.CHAT_PROMPT),
        (_values(temperature="2.5"), B.CHAT_TEMPERATURE),
        (_values(temperature="-0.1"), B.CHAT_TEMPERATURE),
        (_values(temperature="warm"), B.CHAT_TEMPERATURE),
        (_values(temperature="nan"), B.CHAT_TEMPERATURE),
        (_values(max_tokens="0"), B.CHAT_MAX_TOKENS),
        (_values(max_tokens="4097"), B.CHAT_MAX_TOKENS),
        (_values(max_tokens="1.5"), B.CHAT_MAX_TOKENS),
        ({}, B.CHAT_PROMPT),
    ],
)
def test_bad_fields_are_keyed_by_block(values: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_test_chat(values)
    assert caught.value.field == field
    assert type(caught.value.field) is str  # not the StrEnum: orjson refuses those as keys
    assert orjson.loads(orjson.dumps({caught.value.field: caught.value.message}))
