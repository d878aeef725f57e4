"""The Test chat modal and its parser."""

from __future__ import annotations

from collections.abc import Mapping

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    InputBlock,
    NumberInputElement,
    Option,
    PlainTextInputElement,
)
from slack_sdk.models.views import View

from bot.ui.blocks import context, fields_section
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from bot.ui.state import Values, parse_number, state_value
from bot.ui.text import clip, code, escape, escape_clip, mention, number
from commands.errors import InvalidInput
from commands.models import ChatMessage, ChatRequest
from commands.records import EndpointRecord

DEFAULT_TEMPERATURE = 0.7
DEFAULT_MAX_TOKENS = 256
MAX_TOKENS_LIMIT = 4096
PROMPT_MAX_CHARS = 20_000
WITH_BASE = "with_base"
#: a column of the side-by-side section (Slack allows 2,000 characters per field)
COLUMN_MAX = 1900
#: a streamed message's markdown (Slack allows 12,000 characters per message)
STREAM_MAX = 11_000


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
            InputBlock(
                block_id=B.CHAT_WITH_BASE,
                label="Compare",
                optional=True,
                element=CheckboxesElement(
                    action_id=Action.CHAT_WITH_BASE,
                    options=[
                        Option(
                            value=WITH_BASE,
                            label="Also ask the base model",
                            description="Its answer is shown beside the fine-tuned one.",
                        )
                    ],
                ),
            ),
        ],
    )


def parse_with_base(values: Values) -> bool:
    """Whether "Also ask the base model" is ticked."""
    block = values.get(B.CHAT_WITH_BASE) if isinstance(values, Mapping) else None
    element = block.get(Action.CHAT_WITH_BASE) if isinstance(block, Mapping) else None
    chosen = element.get("selected_options") if isinstance(element, Mapping) else None
    return isinstance(chosen, list) and any(
        isinstance(o, Mapping) and o.get("value") == WITH_BASE for o in chosen
    )


def stream_header(user_id: str, endpoint: str, prompt: str, system: str | None) -> str:
    """The top of a streamed Test chat reply (markdown): who asked what; the answer follows it."""
    quoted = "\n".join("> " + line for line in escape_clip(prompt, 2900).splitlines() or [""])
    head = f":speech_balloon: {mention(user_id)} asked {code(clip(endpoint, 100))}:\n"
    if system:
        head += f"**System:** {escape_clip(system, 600)}\n"
    return f"{head}**Prompt:**\n{quoted}\n\n**Reply:**\n"


def stream_text(text: str) -> str:
    """Model text as it goes into a streamed message: escaped, so it never pings or links."""
    return escape(text)


def _usage_line(usage: object, latency_ms: object) -> str:
    notes = []
    if isinstance(usage, Mapping) and usage:
        notes.append(f"Tokens: {number(int(usage.get('total_tokens') or 0))}")
    if notes and isinstance(latency_ms, int | float) and latency_ms >= 0:
        notes.append(f"Latency: {number(float(latency_ms) / 1000)} s")
    return " · ".join(notes)


def side_by_side(data: Mapping[str, object]) -> list[Block]:
    """The base model's answer beside the fine-tuned one, each with its tokens and latency (a Test chat
    post's ``base``); none when the base model was not asked."""
    base = data.get("base")
    if not isinstance(base, Mapping):
        return []
    model = clip(str(base.get("model") or "base model"), 100)
    missing = str(base.get("missing") or "")
    if missing:
        left = f"*Base model* {code(model)}\n_No answer: {escape_clip(missing, 300)}_"
    else:
        answer = escape_clip(str(base.get("reply") or "") or "(empty)", COLUMN_MAX)
        left = f"*Base model* {code(model)}\n{answer}"
    right = "*Fine-tuned*\n" + escape_clip(str(data.get("reply") or "") or "(empty)", COLUMN_MAX)
    usage = [
        "Base: " + (_usage_line(base.get("usage"), base.get("latency_ms")) or "no answer"),
        "Fine-tuned: " + (_usage_line(data.get("usage"), data.get("latency_ms")) or "n/a"),
    ]
    return [fields_section(B.CHAT_SIDE_BY_SIDE, [left, right]), context(B.CHAT_BASE_USAGE, " · ".join(usage))]


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
