"""The OpenAI chat completions shapes the local endpoint answers with: the reply object and the
server-sent event stream, settled with the tokens used even when the client goes away."""

from __future__ import annotations

import json
from collections.abc import Generator as GeneratorType
from collections.abc import Iterator, Sequence
from typing import Any

from bot.backends.local.completions import ChatBody, completion, sse
from bot.backends.local.generation import Generation


class WholeReply:
    """A generator without ``stream``: the reply comes in one piece."""

    context_length = 64

    def prompt_tokens(self, messages: Sequence[dict[str, str]]) -> list[int]:
        return [1, 2, 3]

    def generate(
        self, prompt: list[int], *, temperature: float, max_tokens: int, min_tokens: int = 0
    ) -> Generation:
        return Generation(text="hi there", completion_tokens=2, finish_reason="stop")


class Streaming(WholeReply):
    def stream(self, prompt: list[int], *, cancel: object, **kwargs: object) -> Iterator[str | Generation]:
        yield "hi"
        yield " there"
        yield Generation(text="hi there", completion_tokens=2, finish_reason="stop")


def _events(chunks: Iterator[bytes]) -> list[Any]:
    out: list[Any] = []
    for chunk in chunks:
        assert chunk.startswith(b"data: ") and chunk.endswith(b"\n\n")
        data = chunk[len(b"data: ") : -2]
        out.append("[DONE]" if data == b"[DONE]" else json.loads(data))
    return out


def _body(**extra: object) -> ChatBody:
    return ChatBody.model_validate({"messages": [{"role": "user", "content": "hello"}], **extra})


def test_a_completion_counts_prompt_and_reply_tokens() -> None:
    out = Generation(text="ok", completion_tokens=4, finish_reason="length")
    reply = completion("m1", [1, 2, 3], out, created=1000)
    assert reply["object"] == "chat.completion" and reply["model"] == "m1" and reply["created"] == 1000
    assert reply["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "length"}
    ]
    assert reply["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


def test_a_whole_reply_is_sent_as_one_text_chunk_then_usage_when_asked() -> None:
    used: list[int] = []
    body = _body(stream=True, stream_options={"include_usage": True})
    chunks = sse(WholeReply(), [1, 2, 3], body, max_tokens=10, model_name="m1", created=5, settle=used.append)
    events = _events(chunks)
    deltas = [e["choices"][0]["delta"] for e in events[:3]]
    assert deltas == [{"role": "assistant", "content": ""}, {"content": "hi there"}, {}]
    assert events[2]["choices"][0]["finish_reason"] == "stop"
    assert events[3]["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert events[4] == "[DONE]"
    assert used == [5]


def test_a_streamed_reply_goes_out_as_it_comes_and_an_abandoned_one_settles_the_prompt() -> None:
    used: list[int] = []
    chunks = sse(
        Streaming(),
        [1, 2, 3],
        _body(stream=True),
        max_tokens=10,
        model_name="m1",
        created=5,
        settle=used.append,
    )
    events = _events(chunks)
    texts = [e["choices"][0]["delta"].get("content") for e in events[1:3]]
    assert texts == ["hi", " there"]
    assert [e for e in events if isinstance(e, dict) and "usage" in e] == []  # not asked for
    assert used == [5]

    gone: list[int] = []
    abandoned = sse(
        Streaming(), [1, 2, 3], _body(), max_tokens=10, model_name="m1", created=5, settle=gone.append
    )
    assert isinstance(abandoned, GeneratorType)  # Starlette closes it when the client goes away
    next(abandoned)  # the role chunk, then the client goes away
    abandoned.close()
    assert gone == [3]  # only the prompt was used
