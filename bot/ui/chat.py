"""The Test chat modal and its parser."""

from __future__ import annotations

from slack_sdk.models.blocks import InputBlock, NumberInputElement, PlainTextInputElement
from slack_sdk.models.views import View

from bot.ui.blocks import context
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from bot.ui.state import Values, parse_number, state_value
from bot.ui.text import clip, code
from commands.errors import InvalidInput
from commands.models import ChatMessage, ChatRequest
from commands.records import EndpointRecord

DEFAULT_TEMPERATURE = 0.7
DEFAULT_MAX_TOKENS = 256
MAX_TOKENS_LIMIT = 4096
PROMPT_MAX_CHARS = 20_000


def test_chat_modal(endpoint: EndpointRecord) -> View:
    """Opened by the ``Test chat`` button; ``private_metadata`` is the endpoint's name."""
    return View(
        type="modal",
        callback_id=Callback.TEST_CHAT,
        title="Test chat",
        submit="Send",
        close="Cancel",
        private_metadata=endpoint.name,
        blocks=[
            context(
                B.CHAT_ENDPOINT,
                f"Endpoint {code(clip(endpoint.name, 100))} serving {code(clip(endpoint.model, 150))}. "
                "The exchange is posted in the job's thread.",
            ),
            InputBlock(
                block_id=B.CHAT_PROMPT,
                label="Prompt",
                element=PlainTextInputElement(
                    action_id=Action.CHAT_PROMPT,
                    multiline=True,
                    placeholder="Ask the fine-tuned model something",
                ),
            ),
            InputBlock(
                block_id=B.CHAT_SYSTEM,
                label="System message",
                optional=True,
                element=PlainTextInputElement(
                    action_id=Action.CHAT_SYSTEM,
                    multiline=True,
                    placeholder="Optional: how the model should behave",
                ),
            ),
            InputBlock(
                block_id=B.CHAT_TEMPERATURE,
                label="Temperature",
                hint="0 to 2. Lower is more predictable.",
                element=NumberInputElement(
                    action_id=Action.CHAT_TEMPERATURE,
                    is_decimal_allowed=True,
                    min_value="0",
                    max_value="2",
                    initial_value=str(DEFAULT_TEMPERATURE),
                ),
            ),
            InputBlock(
                block_id=B.CHAT_MAX_TOKENS,
                label="Max tokens",
                hint=f"1 to {MAX_TOKENS_LIMIT}: the longest reply you want.",
                element=NumberInputElement(
                    action_id=Action.CHAT_MAX_TOKENS,
                    is_decimal_allowed=False,
                    min_value="1",
                    max_value=str(MAX_TOKENS_LIMIT),
                    initial_value=str(DEFAULT_MAX_TOKENS),
                ),
            ),
        ],
    )


def parse_test_chat(values: Values) -> ChatRequest:
    """The submitted modal as a ``ChatRequest``; ``InvalidInput(field=<block id>)`` for a bad field."""
    prompt = state_value(values, B.CHAT_PROMPT, Action.CHAT_PROMPT)
    if prompt is None:
        raise InvalidInput("Write a prompt to send.", field=str(B.CHAT_PROMPT))
    if len(prompt) > PROMPT_MAX_CHARS:
        raise InvalidInput(
            f"The prompt is too long (at most {PROMPT_MAX_CHARS:,} characters).", field=str(B.CHAT_PROMPT)
        )
    system = state_value(values, B.CHAT_SYSTEM, Action.CHAT_SYSTEM)
    temperature = parse_number(
        state_value(values, B.CHAT_TEMPERATURE, Action.CHAT_TEMPERATURE),
        field=B.CHAT_TEMPERATURE,
        label="Temperature",
        integer=False,
        low=0,
        high=2,
    )
    max_tokens = parse_number(
        state_value(values, B.CHAT_MAX_TOKENS, Action.CHAT_MAX_TOKENS),
        field=B.CHAT_MAX_TOKENS,
        label="Max tokens",
        integer=True,
        low=1,
        high=MAX_TOKENS_LIMIT,
    )
    messages = [ChatMessage(role="system", content=system)] if system else []
    messages.append(ChatMessage(role="user", content=prompt))
    return ChatRequest(
        messages=tuple(messages),
        temperature=DEFAULT_TEMPERATURE if temperature is None else float(temperature),
        max_tokens=DEFAULT_MAX_TOKENS if max_tokens is None else int(max_tokens),
    )
