"""The judge client against an httpx transport fake of an OpenAI-compatible endpoint: the prompt it
sends, the verdict it reads, its token counts, and errors that never carry the key."""

from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic import SecretStr

from bot.evaluation.judge import OpenAIJudge, fill, judge_problems, judge_prompt, read_verdict

KEY = "sk-judge-very-secret"


def _judge(handler: Any) -> tuple[OpenAIJudge, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        response: httpx.Response = handler(request)
        return response

    client = httpx.Client(transport=httpx.MockTransport(record))
    return OpenAIJudge("http://judge.test/v1", SecretStr(KEY), "judge-1", http_client=client), seen


def _completion(text: str, prompt_tokens: int = 120, completion_tokens: int = 1) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "c1",
            "object": "chat.completion",
            "created": 1,
            "model": "judge-1",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        },
    )


def test_the_prompt_is_filled_in_one_pass_and_sent_with_the_key() -> None:
    judge, seen = _judge(lambda _: _completion("B"))
    call = judge.compare("What is 2+2?", "4", "five {answer_b}", "4")
    assert call.choice == "B" and call.error is None
    assert (call.prompt_tokens, call.completion_tokens) == (120, 1)
    body = json.loads(seen[0].content)
    assert seen[0].url.path == "/v1/chat/completions"
    assert seen[0].headers["authorization"] == f"Bearer {KEY}"
    assert body["model"] == "judge-1" and body["temperature"] == 0
    prompt = body["messages"][0]["content"]
    assert "<question>\nWhat is 2+2?\n</question>" in prompt
    assert "<reply_a>\nfive {answer_b}\n</reply_a>" in prompt  # a placeholder in a reply stays as written
    assert "<reply_b>\n4\n</reply_b>" in prompt
    assert "{question}" not in prompt and "{" not in judge_prompt().replace("{question}", "").replace(
        "{reference}", ""
    ).replace("{answer_a}", "").replace("{answer_b}", "")


def test_verdicts_are_read_strictly() -> None:
    assert [read_verdict(t) for t in ("A", " b.", "TIE", "tie\n", "**A**")] == ["A", "B", "tie", "tie", "A"]
    assert [read_verdict(t) for t in ("", "Both", "Answer: A", "AB")] == [None, None, None, None]
    assert fill("{question}|{answer_a}", question="{answer_a}", answer_a="x") == "{answer_a}|x"


def test_an_unreadable_verdict_and_http_errors_say_so_without_the_key() -> None:
    judge, _ = _judge(lambda _: _completion("I think both are fine"))
    call = judge.compare("q", "r", "a", "b")
    assert call.choice is None and call.error is not None and "not A, B or TIE" in call.error
    judge, seen = _judge(lambda _: httpx.Response(401, json={"error": {"message": f"bad key {KEY}"}}))
    call = judge.compare("q", "r", "a", "b")
    assert call.choice is None and call.error == "the judge answered HTTP 401"
    assert len(seen) == 1  # a 401 is not retried

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect {KEY}", request=request)

    judge, _ = _judge(down)
    judge._client = judge._client.with_options(max_retries=0)
    call = judge.compare("q", "r", "a", "b")
    assert call.error == "the judge could not be reached" and KEY not in repr(call)


def test_the_three_settings_go_together() -> None:
    assert judge_problems(None, None, None) == []
    assert judge_problems("http://j/v1", SecretStr("k"), "m") == []
    (problem,) = judge_problems("http://j/v1", None, "m")
    assert "FTBOT_EVAL_JUDGE_KEY" in problem and "URL" in problem
